import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { onReport, settled, unload, type ReloadRecord } from '../dist/runtime/index.js';
import { until } from './helpers/project.ts';
import { post, reloadUnderLoad, serving, startApp, stopApp, summary, WORKERS, type Measured, type Running } from './helpers/sql-load.ts';

// Module-scope mysql2 clients (pools, a pool cluster, a connection; callback and promise APIs;
// under Drizzle) reloaded under a bounded loopback insert load, against the real MariaDB of the
// global setup (test/setup/mariadb.ts), MariaDB's own processlist sampled throughout.

const RELOADS = 50;
/** The app's pool size. */
const POOL = 5;
/** Allowed above one pool while reloads come every ~120 ms: a previous pool ends 100 ms after its last query. */
const DRAIN = 2 * WORKERS;
const TABLE = 'mysql_items';

const insertSql = `INSERT INTO ${TABLE} (run, n) VALUES (?, ?)`;

/** The callback API: `mysql.createPool()` from `mysql2`. */
const poolDb = (url: string, version: number) => `import mysql from 'mysql2';

export const version = ${version};
export const pool = mysql.createPool({ uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} });

export function insert(doc: { run: string; n: number }) {
  return new Promise((resolve, reject) => {
    pool.query('${insertSql}', [doc.run, doc.n], (error, result: any) => (error ? reject(error) : resolve(result.insertId)));
  });
}
`;

const promisePoolDb = (url: string, version: number) => `import mysql from 'mysql2/promise';

export const version = ${version};
export const pool = mysql.createPool({ uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} });

export async function insert(doc: { run: string; n: number }) {
  const [result] = await pool.execute<any>('${insertSql}', [doc.run, doc.n]);
  return result.insertId;
}
`;

const connectionDb = (url: string, version: number) => `import mysql from 'mysql2/promise';

export const version = ${version};
export const ready = mysql.createConnection(${JSON.stringify(url)});

export async function insert(doc: { run: string; n: number }) {
  const [result] = await (await ready).query<any>('${insertSql}', [doc.run, doc.n]);
  return result.insertId;
}
`;

/** Drizzle over a mysql2 pool: the pool is the whole problem. */
const drizzleDb = (url: string, version: number) => `import mysql from 'mysql2/promise';
import { drizzle } from 'drizzle-orm/mysql2';
import { int, mysqlTable, serial, varchar } from 'drizzle-orm/mysql-core';

export const version = ${version};
const items = mysqlTable('${TABLE}', { id: serial('id').primaryKey(), run: varchar('run', { length: 64 }).notNull(), n: int('n').notNull() });
export const pool = mysql.createPool({ uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} });
export const db = drizzle(pool);

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db.insert(items).values(doc).$returningId();
  return row!.id;
}
`;

/** Drizzle given connection options: it creates the mysql2 pool itself, for this module, which imports no mysql2. */
const drizzleConnectionDb = (url: string, version: number) => `import { drizzle } from 'drizzle-orm/mysql2';
import { int, mysqlTable, serial, varchar } from 'drizzle-orm/mysql-core';

export const version = ${version};
const items = mysqlTable('${TABLE}', { id: serial('id').primaryKey(), run: varchar('run', { length: 64 }).notNull(), n: int('n').notNull() });
export const db = drizzle({ connection: { uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} } });

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db.insert(items).values(doc).$returningId();
  return row!.id;
}
`;

const clusterDb = (url: string, version: number) => `import mysql from 'mysql2';

export const version = ${version};
export const cluster = mysql.createPoolCluster();
cluster.add('primary', { uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} });

export function insert(doc: { run: string; n: number }) {
  return new Promise((resolve, reject) => {
    cluster.of('*').query('${insertSql}', [doc.run, doc.n], (error, result: any) => (error ? reject(error) : resolve(result.insertId)));
  });
}
`;

/** knex's mysql2 client: its connections are knex's, the knex adapter ends them. */
const knexDb = (url: string, version: number) => `import knex from 'knex';

export const version = ${version};
export const db = knex({ client: 'mysql2', connection: ${JSON.stringify(url)}, pool: { min: 0, max: ${POOL} } });
// A connection opened while the file evaluates: the one the mysql2 adapter would take for the file's.
await db.raw('SELECT 1');

export async function insert(doc: { run: string; n: number }) {
  const [id] = await db('${TABLE}').insert(doc);
  return id;
}
`;

/** Sequelize's mysql dialect: its mysql2 connections are Sequelize's (mysql2 imported too, so its hooks are in place). */
const sequelizeDb = (url: string, version: number) => `import 'mysql2';
import { DataTypes, Sequelize } from 'sequelize';

export const version = ${version};
export const sequelize = new Sequelize(${JSON.stringify(url)}, { logging: false, pool: { max: ${POOL} } });
const Item = sequelize.define('Item', { run: DataTypes.STRING, n: DataTypes.INTEGER }, { tableName: '${TABLE}', timestamps: false });
// A connection opened while the file evaluates: the one the mysql2 adapter would take for the file's.
await sequelize.authenticate();

export async function insert(doc: { run: string; n: number }) {
  return (await Item.create(doc)).get('id');
}
`;

/** The dev-server idiom: the pool kept on globalThis. */
const cachedDb = (url: string, version: number) => `import mysql from 'mysql2/promise';

export const version = ${version};
const cache = globalThis as { _mysqlTestPool?: mysql.Pool };
export const pool = (cache._mysqlTestPool ??= mysql.createPool({ uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} }));

export async function insert(doc: { run: string; n: number }) {
  const [result] = await pool.query<any>('${insertSql}', [doc.run, doc.n]);
  return result.insertId;
}
`;

/** MariaDB's own count of connections to the test database, but the watcher's. */
class Watcher {
  constructor(readonly connection: mysql.Connection) {}
  static async connect(url: string): Promise<Watcher> {
    return new Watcher(await mysql.createConnection(url));
  }
  async connections(): Promise<number> {
    const [rows] = await this.connection.query<any[]>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()');
    return Number(rows[0].n);
  }
  async found(run: string): Promise<number[]> {
    const [rows] = await this.connection.query<any[]>(`SELECT n FROM ${TABLE} WHERE run = ?`, [run]);
    return rows.map((row) => row.n);
  }
}

let url: string;
let watcher: Watcher;
const reports: ReloadRecord[] = [];
const allLogs: string[] = [];
let unsubscribe: () => void;
let running: Running | undefined;

beforeAll(async () => {
  url = inject('mariadbUrl');
  if (!url) throw new Error(inject('mariadbMissing'));
  watcher = await Watcher.connect(url);
  await watcher.connection.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(64) NOT NULL, n INT NOT NULL)`);
  unsubscribe = onReport((record) => reports.push(record));
});
afterAll(async () => {
  unsubscribe?.();
  await watcher?.connection.end();
});
afterEach(async () => {
  if (!running) return;
  // As if db.ts were deleted: its last generation's client is released too.
  unload(running.project.path('db.ts'));
  allLogs.push(...running.dev.logs);
  await stopApp(running);
  running = undefined;
});

async function start(name: string, db: string): Promise<Running> {
  return (running = await startApp(`mysql2-${name}`, db));
}

function released(from: number): ReloadRecord['released'] {
  return reports.slice(from).flatMap((record) => record.released);
}

async function expectAllFound(run: string, acknowledged: number[]): Promise<void> {
  const found = await watcher.found(run);
  expect(found.length).toBe(acknowledged.length);
  const ns = new Set(found);
  expect(acknowledged.filter((n) => !ns.has(n))).toEqual([]);
}

function report(name: string, m: Measured): void {
  console.log(summary(name, m).replace('PostgreSQL connections', 'MariaDB connections'));
}

describe('module-scope mysql2 clients on MariaDB', () => {
  it('mysql.createPool() (callback API): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `pool-${Date.now()}`;
    const r = await start('pool', poolDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => poolDb(url, version), run, watcher, RELOADS, POOL);
    report('mysql.createPool', m);

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'closed' });
    expect(r.dev.logs.some((line) => line.includes('closed mysql2:Pool'))).toBe(true);
  });

  it('mysql2/promise createPool(): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `promise-pool-${Date.now()}`;
    const r = await start('promise-pool', promisePoolDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => promisePoolDb(url, version), run, watcher, RELOADS, POOL);
    report('mysql2/promise createPool', m);

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'closed' });
  });

  it('mysql2/promise createConnection(): 50 reloads under load keep one connection and lose no insert', async () => {
    const run = `connection-${Date.now()}`;
    const r = await start('connection', connectionDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => connectionDb(url, version), run, watcher, RELOADS, 1);
    report('mysql2/promise createConnection', m);

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(1 + DRAIN);
    expect(m.after).toBe(1);
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Connection', action: 'closed' });
  });

  it('drizzle(pool) over mysql2: 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `drizzle-${Date.now()}`;
    const r = await start('drizzle', drizzleDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => drizzleDb(url, version), run, watcher, RELOADS, POOL);
    report('drizzle(mysql2 pool)', m);

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'closed' });
  });

  it('drizzle({ connection }) without importing mysql2: 20 reloads under load end the pools Drizzle made', async () => {
    const run = `drizzle-connection-${Date.now()}`;
    const r = await start('drizzle-connection', drizzleConnectionDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => drizzleConnectionDb(url, version), run, watcher, 20, POOL);
    report('drizzle({ connection }) on mysql2', m);

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'closed' });
  });

  it('mysql.createPoolCluster(): 20 reloads under load end each previous cluster, its pools with it', async () => {
    const run = `cluster-${Date.now()}`;
    const r = await start('cluster', clusterDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => clusterDb(url, version), run, watcher, 20, POOL);
    report('mysql.createPoolCluster', m);

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'mysql2', name: 'PoolCluster', action: 'closed' });
    // The cluster's pools are the cluster's.
    expect(actions.filter((a) => a.adapter === 'mysql2' && a.name === 'Pool')).toEqual([]);
  });

  it("knex({ client: 'mysql2' }): 20 reloads under load; knex's connections stay knex's", async () => {
    const run = `knex-${Date.now()}`;
    const r = await start('knex', knexDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => knexDb(url, version), run, watcher, 20, POOL);
    report("knex({ client: 'mysql2' })", m);

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'knex', name: 'knex', action: 'closed' });
    expect(actions.filter((a) => a.adapter === 'mysql2')).toEqual([]);
  });

  it("new Sequelize() on mysql2: 20 reloads under load; Sequelize's connections stay Sequelize's", async () => {
    const run = `sequelize-${Date.now()}`;
    const r = await start('sequelize', sequelizeDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => sequelizeDb(url, version), run, watcher, 20, POOL);
    report('new Sequelize() on mysql2', m);

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'sequelize', name: 'Sequelize', action: 'closed' });
    expect(actions.filter((a) => a.adapter === 'mysql2')).toEqual([]);
  });
});

describe('module-scope mysql2 clients, edge cases', () => {
  it('a throwing re-evaluation keeps the previous pool open and working; the next good one ends it', async () => {
    const run = `rollback-${Date.now()}`;
    const r = await start('rollback', promisePoolDb(url, 1));
    const first = await r.dev.load<{ pool: mysql.Pool & { pool: { _closed: boolean } }; insert: (doc: object) => Promise<unknown> }>('db.ts');
    await first.insert({ run, n: 1 });
    const from = reports.length;
    // The broken body creates a pool of its own before it throws.
    await r.dev.edit('db.ts', promisePoolDb(url, 2).replace('export async function insert', "throw new Error('boom in db.ts');\nexport async function insert"));
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
    expect(failed?.released).toEqual([{ adapter: 'mysql2', name: 'Pool', action: 'closed' }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first.pool.pool._closed).toBe(false);
    await first.insert({ run, n: 3 });

    await r.dev.edit('db.ts', promisePoolDb(url, 4));
    await serving(r.dev, 4);
    expect((await post(r.base, { run, n: 4 })).ok).toBe(true);
    await until(() => first.pool.pool._closed, 10_000, 'the previous pool to end');
    await settled();
    expect(released(from)).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'closed' });
    await expectAllFound(run, [1, 2, 3, 4]);
  });

  it('a pool kept on globalThis is taken back, never ended', async () => {
    const run = `cached-${Date.now()}`;
    const cache = globalThis as { _mysqlTestPool?: mysql.Pool };
    try {
      const r = await start('cached', cachedDb(url, 1));
      const first = await r.dev.load<{ pool: mysql.Pool & { pool: { _closed: boolean } } }>('db.ts');
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', cachedDb(url, version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ pool: mysql.Pool }>('db.ts');
      expect(last.pool).toBe(first.pool);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(first.pool.pool._closed).toBe(false);
      expect(await watcher.connections()).toBe(1);
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'mysql2', name: 'Pool', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound(run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache._mysqlTestPool?.end();
      delete cache._mysqlTestPool;
    }
  });

  it('a connection with a transaction open is ended only after its COMMIT', async () => {
    const run = `transaction-${Date.now()}`;
    const r = await start('transaction', connectionDb(url, 1));
    const first = await r.dev.load<{ ready: Promise<mysql.Connection & { connection: { _closing?: boolean } }> }>('db.ts');
    const connection = await first.ready;
    await connection.beginTransaction();
    await connection.query(insertSql, [run, 1]);
    await r.dev.edit('db.ts', connectionDb(url, 2));
    await serving(r.dev, 2);
    await settled();
    // Idle for well over the 100 ms quiet period, but inside a transaction: still open.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(connection.connection._closing).toBeFalsy();
    await connection.query(insertSql, [run, 2]);
    await connection.commit();
    await until(() => !!connection.connection._closing, 10_000, 'the previous connection to end after COMMIT');
    await expectAllFound(run, [1, 2]);
  });

  it('never prints or reports a connection string', () => {
    expect(allLogs.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toMatch(/mysql:\/\//);
    expect(allLogs.filter((line) => /mysql:\/\//.test(line))).toEqual([]);
  });
});
