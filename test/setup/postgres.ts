import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findPostgres, MISSING, startPostgres } from '../../db/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test PostgreSQL's URL, or '' when PostgreSQL is not installed (`postgresMissing` says why). */
    postgresUrl: string;
    postgresMissing: string;
  }
}

/**
 * One real PostgreSQL (Debian's package) for the whole run. Without it only the SQL tests fail,
 * each with the one message saying what to install.
 */
export default async function setup(project: TestProject) {
  if (!findPostgres()) {
    project.provide('postgresUrl', '');
    project.provide('postgresMissing', MISSING);
    return;
  }
  const base = join(import.meta.dirname, '..', '.tmp');
  mkdirSync(base, { recursive: true });
  const postgres = await startPostgres({ base, database: `orm_hmr_test_${process.pid}` });
  project.provide('postgresUrl', postgres.url);
  project.provide('postgresMissing', '');
  return () => postgres.stop();
}
