import { reloadScenarios } from './helpers/scenarios.ts';

// Mongoose never connects: each model's init waits in the connection's queue.
for (const vite of ['vite', 'vite7', 'vite6'] as const) {
  for (const mode of ['ssrLoadModule', 'runner'] as const) {
    reloadScenarios({ vite, mode, connected: false, uri: () => '' });
  }
}
