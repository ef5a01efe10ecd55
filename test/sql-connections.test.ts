import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { settled, unload } from '../dist/runtime/index.js';
import { poolBusy } from '../src/adapters/pg.ts';
import { closeWhenQuiet } from '../src/adapters/quiet-close.ts';
import { until } from './helpers/project.ts';
import { filesOpen, post, reloadUnderLoad, serving, stopApp, summary, Watcher, WORKERS, postgresSuite } from './helpers/sql-load.ts';

// Module-scope SQL clients (pg `Pool` and `Client`, knex) reloaded 50 times each under a bounded
// loopback insert load, against the real PostgreSQL of the global setup (test/setup/postgres.ts),
// PostgreSQL's own pg_stat_activity sampled throughout.

const RELOADS = 50;
/** The app's pool size. */
const POOL = 5;
/**
 * Allowed above one pool while reloads come every ~120 ms: a previous pool ends 100 ms after its
 * last query, so one or two of them may still hold the load's connections (one per worker).
 */
const DRAIN = 2 * WORKERS;
const TABLE = 'sql_items';

const poolDb = (url: string, version: number) => `import pg from 'pg';

export const version = ${version};
export const pool = new pg.Pool({ connectionString: ${JSON.stringify(url)}, max: ${POOL} });

export async function insert(doc: { run: string; n: number }) {
  const { rows } = await pool.query('INSERT INTO ${TABLE} (run, n) VALUES ($1, $2) RETURNING id', [doc.run, doc.n]);
  return rows[0].id;
}
`;

const clientDb = (url: string, version: number) => `import { Client } from 'pg';

export const version = ${version};
export const client = new Client(${JSON.stringify(url)});
const ready = client.connect();

export async function insert(doc: { run: string; n: number }) {
  await ready;
  const { rows } = await client.query('INSERT INTO ${TABLE} (run, n) VALUES ($1, $2) RETURNING id', [doc.run, doc.n]);
  return rows[0].id;
}
`;

/** The dev-server idiom (Drizzle's and Prisma's docs): the pool kept on globalThis. */
const cachedDb = (url: string, version: number) => `import pg from 'pg';

export const version = ${version};
const cache = globalThis as { _sqlTestPool?: pg.Pool };
export const pool = (cache._sqlTestPool ??= new pg.Pool({ connectionString: ${JSON.stringify(url)}, max: ${POOL} }));

export async function insert(doc: { run: string; n: number }) {
  const { rows } = await pool.query('INSERT INTO ${TABLE} (run, n) VALUES ($1, $2) RETURNING id', [doc.run, doc.n]);
  return rows[0].id;
}
`;

const knexDb = (url: string, version: number) => `import knex from 'knex';

export const version = ${version};
export const db = knex({ client: 'pg', connection: ${JSON.stringify(url)}, pool: { min: 0, max: ${POOL} } });

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db('${TABLE}').insert(doc).returning('id');
  return row.id;
}
`;

/** knex kept on globalThis, one level down in a plain object. */
const cachedKnexDb = (url: string, version: number) => `import knex from 'knex';

export const version = ${version};
const cache = globalThis as { _sqlTest?: { knex?: ReturnType<typeof knex> } };
export const db = ((cache._sqlTest ??= {}).knex ??= knex({ client: 'pg', connection: ${JSON.stringify(url)}, pool: { min: 0, max: ${POOL} } }));

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db('${TABLE}').insert(doc).returning('id');
  return row.id;
}
`;

const sqliteDb = (file: string, version: number) => `import Database from 'better-sqlite3';

export const version = ${version};
export const db = new Database(${JSON.stringify(file)});
const insertRow = db.prepare('INSERT INTO ${TABLE} (run, n) VALUES (?, ?)');

export async function insert(doc: { run: string; n: number }) {
  return insertRow.run(doc.run, doc.n).lastInsertRowid;
}
`;

/** Drizzle over a pg Pool: Drizzle keeps no registry; the pool is the whole problem. */
const drizzleDb = (url: string, version: number) => `import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';

export const version = ${version};
const items = pgTable('${TABLE}', { id: serial('id').primaryKey(), run: text('run').notNull(), n: integer('n').notNull() });
export const pool = new pg.Pool({ connectionString: ${JSON.stringify(url)}, max: ${POOL} });
export const db = drizzle(pool);

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db.insert(items).values(doc).returning({ id: items.id });
  return row!.id;
}
`;

/** Drizzle given a connection string: it creates the pg Pool itself, for this module. */
const drizzleUrlDb = (url: string, version: number) => `import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';

export const version = ${version};
const items = pgTable('${TABLE}', { id: serial('id').primaryKey(), run: text('run').notNull(), n: integer('n').notNull() });
export const db = drizzle({ connection: { connectionString: ${JSON.stringify(url)}, max: ${POOL} } });

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db.insert(items).values(doc).returning({ id: items.id });
  return row!.id;
}
`;

const suite = postgresSuite('orm_hmr_sql', TABLE);
const { reports, allLogs, start, released, expectAllFound } = suite;
let url: string;
let watcher: Watcher;
beforeAll(() => void ({ url, watcher } = suite));

describe('module-scope SQL clients on PostgreSQL', () => {
  it('new pg.Pool(): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `pool-${Date.now()}`;
    const r = await start('pool', poolDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => poolDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('new pg.Pool', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'closed' });
    expect(r.dev.logs.some((line) => line.includes('closed pg:Pool'))).toBe(true);
  });

  it('new pg.Client(): 50 reloads under load keep one connection and lose no insert', async () => {
    const run = `client-${Date.now()}`;
    const r = await start('client', clientDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => clientDb(url, version), run, watcher, RELOADS, 1);
    console.log(summary('new pg.Client', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(1 + DRAIN);
    expect(m.after).toBe(1);
    expect(released(from)).toContainEqual({ adapter: 'pg', name: 'Client', action: 'closed' });
  });

  it('drizzle(pool) over pg: 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `drizzle-${Date.now()}`;
    const r = await start('drizzle', drizzleDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => drizzleDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('drizzle(new pg.Pool)', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'closed' });
  });

  it('drizzle(connection) without importing pg: 20 reloads under load end the pools Drizzle made', async () => {
    const run = `drizzle-url-${Date.now()}`;
    const r = await start('drizzle-url', drizzleUrlDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => drizzleUrlDb(url, version), run, watcher, 20, POOL);
    console.log(summary('drizzle({ connection })', m));

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'closed' });
  });

  it('knex(): 50 reloads under load destroy each previous pool once idle and lose no insert', async () => {
    const run = `knex-${Date.now()}`;
    const r = await start('knex', knexDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => knexDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('knex()', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'knex', name: 'knex', action: 'closed' });
    // The pool's own pg connections are the pool's: the pg adapter reports none of them.
    expect(actions.filter((a) => a.adapter === 'pg')).toEqual([]);
  });
});

const describeLinux = process.platform === 'linux' ? describe : describe.skip;

describeLinux('module-scope SQLite databases', () => {
  it('new Database(file) (better-sqlite3): 50 reloads under load keep one handle open and lose no insert', async () => {
    const run = `sqlite-${Date.now()}`;
    const dir = mkdtempSync(join(tmpdir(), 'orm-hmr-sqlite-'));
    const file = join(dir, 'app.db');
    const setup = new Database(file);
    setup.exec(`CREATE TABLE ${TABLE} (id INTEGER PRIMARY KEY, run TEXT NOT NULL, n INTEGER NOT NULL)`);
    setup.close();
    try {
      const r = await start('sqlite', sqliteDb(file, 1));
      const from = reports.length;
      const m = await reloadUnderLoad(r, (version) => sqliteDb(file, version), run, { connections: async () => filesOpen(file) }, RELOADS, 1);
      console.log(summary('new Database(file)', m).replace('PostgreSQL connections', 'open handles'));

      expect(m.failures).toEqual([]);
      expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
      const check = new Database(file, { readonly: true });
      const found = new Set(check.prepare(`SELECT n FROM ${TABLE} WHERE run = ?`).pluck().all(run) as number[]);
      check.close();
      expect(found.size).toBe(m.acknowledged.length);
      expect(m.acknowledged.filter((n) => !found.has(n))).toEqual([]);
      // A previous handle closes 100 ms after its file re-evaluated, and reloads come every ~150 ms:
      // the live one and at most two or three previous ones still draining.
      expect(m.max).toBeLessThanOrEqual(4);
      expect(m.after).toBe(1);
      expect(released(from)).toContainEqual({ adapter: 'better-sqlite3', name: 'Database', action: 'closed' });
    } finally {
      if (suite.running) {
        unload(suite.running.project.path('db.ts'));
        await stopApp(suite.running);
        suite.running = undefined;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('module-scope SQL clients, edge cases', () => {
  it('a throwing re-evaluation keeps the previous pool open and working; the next good one ends it', async () => {
    const run = `rollback-${Date.now()}`;
    const r = await start('rollback', poolDb(url, 1));
    const first = await r.dev.load<{ pool: pg.Pool; insert: (doc: object) => Promise<unknown> }>('db.ts');
    await first.insert({ run, n: 1 });
    const from = reports.length;
    // The broken body creates a pool of its own before it throws.
    await r.dev.edit('db.ts', poolDb(url, 2).replace('export async function insert', "throw new Error('boom in db.ts');\nexport async function insert"));
    await until(async () => {
      try {
        await r.dev.load('app.ts');
        return false;
      } catch (error) {
        return /boom in db\.ts/.test(String(error));
      }
    });
    await first.insert({ run, n: 2 });
    const failed = await settled();
    expect(failed?.failed).toEqual(['db.ts']);
    expect(failed?.released).toEqual([{ adapter: 'pg', name: 'Pool', action: 'closed' }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first.pool.ending).toBe(false);
    await first.insert({ run, n: 3 });

    await r.dev.edit('db.ts', poolDb(url, 4));
    await serving(r.dev, 4);
    expect((await post(r.base, { run, n: 4 })).ok).toBe(true);
    await until(() => first.pool.ended, 10_000, 'the previous pool to end');
    await settled();
    expect(released(from)).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'closed' });
    await expectAllFound(run, [1, 2, 3, 4]);
  });

  it('a query that became ready while the event loop was blocked runs on the previous pool before it is ended', async () => {
    // An evaluation or a GC blocks the loop for longer than the quiet period; when it ends, the
    // close check (a timer) runs before the I/O that became ready meanwhile, here the answer a
    // request awaited before its query on the old pool. The check is confirmed after that I/O.
    const previous = new pg.Pool({ connectionString: url, max: 1 });
    await previous.query('SELECT 1');
    const logs: string[] = [];
    closeWhenQuiet(() => poolBusy(previous), () => previous.end(), 'previous pg Pool', (message) => logs.push(message));
    const request = watcher.client.query('SELECT pg_sleep(0.05)').then(() => previous.query('SELECT 2 AS n'));
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const until = Date.now() + 500;
        while (Date.now() < until);
        resolve();
      }),
    );
    expect((await request).rows).toEqual([{ n: 2 }]);
    await until(() => previous.ended, 5_000, 'the previous pool to end once quiet');
    expect(logs).toEqual([]);
  });

  it('a pool kept on globalThis is taken back, never ended', async () => {
    const run = `cached-${Date.now()}`;
    const cache = globalThis as { _sqlTestPool?: pg.Pool };
    try {
      const r = await start('cached', cachedDb(url, 1));
      const first = await r.dev.load<{ pool: pg.Pool }>('db.ts');
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', cachedDb(url, version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ pool: pg.Pool }>('db.ts');
      expect(last.pool).toBe(first.pool);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(first.pool.ending).toBe(false);
      expect(await watcher.connections()).toBe(1);
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound(run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache._sqlTestPool?.end();
      delete cache._sqlTestPool;
    }
  });

  it('a knex instance kept on globalThis is taken back, never destroyed', async () => {
    const run = `cached-knex-${Date.now()}`;
    const cache = globalThis as { _sqlTest?: { knex?: { destroy(): Promise<void>; client: { pool?: object } } } };
    try {
      const r = await start('cached-knex', cachedKnexDb(url, 1));
      const first = await r.dev.load<{ db: { client: { pool?: object } } }>('db.ts');
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', cachedKnexDb(url, version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ db: unknown }>('db.ts');
      expect(last.db).toBe(first.db);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(first.db.client.pool).toBeDefined();
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'knex', name: 'knex', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound(run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache._sqlTest?.knex?.destroy();
      delete cache._sqlTest;
    }
  });

  it('never prints or reports a connection string', () => {
    expect(allLogs.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toMatch(/postgres(ql)?:\/\//);
    expect(allLogs.filter((line) => /postgres(ql)?:\/\//.test(line))).toEqual([]);
  });
});
