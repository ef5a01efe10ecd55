import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findMariadb, MISSING, startMariadb } from '../../db/mariadb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test MariaDB's URL (`mysql://root@127.0.0.1:port/db`), or '' when MariaDB is not installed (`mariadbMissing` says why). */
    mariadbUrl: string;
    mariadbMissing: string;
  }
}

/**
 * One real MariaDB (Debian's `mariadb-server`) for the whole run, for the mysql2 tests. Without it
 * only those tests fail, each with the one message saying what to install.
 */
export default async function setup(project: TestProject) {
  if (!findMariadb()) {
    project.provide('mariadbUrl', '');
    project.provide('mariadbMissing', MISSING);
    return;
  }
  const base = join(import.meta.dirname, '..', '.tmp');
  mkdirSync(base, { recursive: true });
  const mariadb = await startMariadb({ base, database: `orm_hmr_test_${process.pid}` });
  project.provide('mariadbUrl', mariadb.url);
  project.provide('mariadbMissing', '');
  return () => mariadb.stop();
}
