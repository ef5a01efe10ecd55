import { basename } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { nestedApps } from './test/setup/apps.ts';
import { satisfiesNode } from './test/setup/say.ts';

// test/<name>.test.ts belongs to test/<name>-app/ when there is one: on a Node older than that
// app's `engines.node` (React Router 8 and Astro 7 need Node 22), the file is not collected at all.
// It runs in the Node 24 pass (`npm run test:node24`); nothing is skipped.
const tooNew = nestedApps()
  .filter((app) => app.engines && !satisfiesNode(app.engines))
  .map((app) => `test/${basename(app.dir).replace(/-app$/, '')}.test.ts`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/.tmp/**', 'test/*-app/**', ...tooNew],
    // Nested apps, a native addon for this Node and a Chromium first; then the databases.
    globalSetup: ['test/setup/install.ts', 'test/setup/database.ts', 'test/setup/postgres.ts', 'test/setup/mariadb.ts'],
    // Real dev servers and a real database: generous, since CI has two cores.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Keep the dev servers' own output readable in CI logs.
    reporters: ['default'],
  },
});
