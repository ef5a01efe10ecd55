import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/database.ts', 'test/setup/postgres.ts'],
    // Real dev servers and a real database: generous, since CI has two cores.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Keep the dev servers' own output readable in CI logs.
    reporters: ['default'],
  },
});
