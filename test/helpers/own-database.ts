import pg from 'pg';

/**
 * A database of its own on the test PostgreSQL, for a test file whose connections must not count
 * in the connection-count tests of files running beside it (they count the clients of their
 * database in `pg_stat_activity`). Returns its URL and the drop.
 */
export async function ownDatabase(url: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const database = `${name}_${process.pid}`;
  const admin = new pg.Client(url);
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const own = new URL(url);
  own.pathname = `/${database}`;
  return {
    url: own.toString(),
    async drop() {
      const client = new pg.Client(url);
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
