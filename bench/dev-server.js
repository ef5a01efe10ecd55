// What the benchmarks share: a throwaway project inside the repo (so it resolves mongoose from our
// node_modules) and a quiet Vite dev server on it, with no file watcher (benchmarks invalidate
// modules themselves, as the watcher would).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'vite';

export function benchProject(name) {
  const tmp = join(import.meta.dirname, '.tmp');
  mkdirSync(tmp, { recursive: true });
  return mkdtempSync(join(tmp, `${name}-`));
}

export function benchServer(root, plugins) {
  return createServer({
    root,
    configFile: false,
    logLevel: 'silent',
    appType: 'custom',
    server: { middlewareMode: true, ws: false, watch: null },
    plugins,
  });
}
