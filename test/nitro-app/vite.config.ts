import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { defineConfig, searchForWorkspaceRoot } from 'vite';
import { nitro } from 'nitro/vite';
import ormHmr from 'orm-hmr/vite';

// Only because this test app links orm-hmr from the repository (file:../..), outside the app: Vite
// lets the module runner load files inside server.fs.allow only. An installed orm-hmr, in
// node_modules, needs no such line.
const linkedOrmHmr = dirname(createRequire(import.meta.url).resolve('orm-hmr/package.json'));

export default defineConfig({
  plugins: [nitro(), ormHmr({ report: '.data/orm-hmr.jsonl' })],
  server: { fs: { allow: [searchForWorkspaceRoot(process.cwd()), linkedOrmHmr] } },
});
