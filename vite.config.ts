import { defineConfig } from 'vite';
// In your project: import ormHmr from 'orm-hmr/vite'
import ormHmr from './src/vite/index.ts';
import { playground } from './playground/dev-server.ts';

export default defineConfig({
  root: 'playground',
  appType: 'custom',
  // An API-only app: no client dependencies to pre-bundle.
  optimizeDeps: { noDiscovery: true, include: [] },
  plugins: [ormHmr({ report: '.data/orm-hmr.jsonl' }), playground()],
});
