import { inject } from 'vitest';
import { reloadScenarios } from './helpers/scenarios.ts';

// Connected to the real database (embedded FerretDB, or MONGODB_URI).
for (const mode of ['ssrLoadModule', 'runner'] as const) {
  reloadScenarios({ vite: 'vite', mode, connected: true, uri: () => inject('mongoUri') });
}
