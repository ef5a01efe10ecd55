import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DatabaseUnavailable, startDatabase, type Database } from '../../db/ferretdb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}

/** One real MongoDB (embedded FerretDB, or MONGODB_URI) for the whole run. */
export default async function setup(project: TestProject) {
  const base = join(import.meta.dirname, '..', '.tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'db-'));
  let database: Database;
  try {
    database = await startDatabase({ dir, database: `orm_hmr_test_${process.pid}` });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    // Its message says what to do (install Go, or set MONGODB_URI); vitest would add "no test files found".
    process.stderr.write(`\n${error.message}\n`);
    process.exit(1);
  }
  project.provide('mongoUri', database.uri);
  return async () => {
    await database.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
