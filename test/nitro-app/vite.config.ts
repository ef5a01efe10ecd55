import { defineConfig } from 'vite';
import { nitro } from 'nitro/vite';
import ormHmr from 'orm-hmr/vite';

export default defineConfig({
  plugins: [nitro(), ormHmr({ report: '.data/orm-hmr.jsonl' })],
});
