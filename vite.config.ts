import { defineConfig } from 'vite';
// As in your project: the built package (`npm run dev` builds it first). From source, Node 20
// could not require the built-in adapters' .ts files, which load on first use.
import ormHmr from 'orm-hmr/vite';
import { playground } from './playground/dev-server.ts';

export default defineConfig({
  root: 'playground',
  appType: 'custom',
  // An API-only app: no client dependencies to pre-bundle.
  optimizeDeps: { noDiscovery: true, include: [] },
  plugins: [ormHmr({ report: '.data/orm-hmr.jsonl' }), playground()],
});
