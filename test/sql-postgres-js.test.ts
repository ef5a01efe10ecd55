import { beforeAll, describe, expect, it } from 'vitest';
import { settled, unload } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';
import { post, reloadUnderLoad, serving, summary, Watcher, WORKERS, postgresSuite } from './helpers/sql-load.ts';

// postgres.js (`const sql = postgres(url)` at a module's top level, alone and under Drizzle)
// reloaded 50 times under a bounded loopback insert load, against the real PostgreSQL of the
// global setup, PostgreSQL's own pg_stat_activity sampled throughout.

const RELOADS = 50;
/** The app's `max`. */
const POOL = 5;
/** Allowed above one client while reloads come every ~120 ms: one or two previous clients may still hold the load's connections. */
const DRAIN = 2 * WORKERS;
const TABLE = 'sql_pgjs_items';

const sqlDb = (url: string, version: number) => `import postgres from 'postgres';

export const version = ${version};
export const sql = postgres(${JSON.stringify(url)}, { max: ${POOL}, onnotice: () => {} });

export async function insert(doc: { run: string; n: number }) {
  const [row] = await sql\`INSERT INTO ${TABLE} (run, n) VALUES (\${doc.run}, \${doc.n}) RETURNING id\`;
  return row!.id;
}
`;

/** Each insert in a transaction: a previous client must not end while one is open. */
const beginDb = (url: string, version: number) => `import postgres from 'postgres';

export const version = ${version};
export const sql = postgres(${JSON.stringify(url)}, { max: ${POOL}, onnotice: () => {} });

export async function insert(doc: { run: string; n: number }) {
  return sql.begin(async (tx) => {
    const [row] = await tx\`INSERT INTO ${TABLE} (run, n) VALUES (\${doc.run}, \${doc.n}) RETURNING id\`;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await tx\`SELECT 1\`;
    return row!.id;
  });
}
`;

const drizzleDb = (url: string, version: number) => `import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';

export const version = ${version};
const items = pgTable('${TABLE}', { id: serial('id').primaryKey(), run: text('run').notNull(), n: integer('n').notNull() });
export const sql = postgres(${JSON.stringify(url)}, { max: ${POOL}, onnotice: () => {} });
export const db = drizzle(sql);

export async function insert(doc: { run: string; n: number }) {
  const [row] = await db.insert(items).values(doc).returning({ id: items.id });
  return row!.id;
}
`;

/** The dev-server idiom: the client kept on globalThis. */
const cachedDb = (url: string, version: number) => `import postgres from 'postgres';

export const version = ${version};
const cache = globalThis as { _pgjsTestSql?: ReturnType<typeof postgres> };
export const sql = (cache._pgjsTestSql ??= postgres(${JSON.stringify(url)}, { max: ${POOL}, onnotice: () => {} }));

export async function insert(doc: { run: string; n: number }) {
  const [row] = await sql\`INSERT INTO ${TABLE} (run, n) VALUES (\${doc.run}, \${doc.n}) RETURNING id\`;
  return row!.id;
}
`;

const suite = postgresSuite('orm_hmr_pgjs', TABLE);
const { reports, allLogs, start, released, expectAllFound } = suite;
let url: string;
let watcher: Watcher;
beforeAll(() => void ({ url, watcher } = suite));

type Sql = { end(): Promise<void>; (strings: TemplateStringsArray, ...args: unknown[]): Promise<unknown[]> };

describe('postgres.js clients on PostgreSQL', () => {
  it('postgres(url): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `pgjs-${Date.now()}`;
    const r = await start('pgjs', sqlDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => sqlDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('postgres(url)', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'postgres', name: 'Sql', action: 'closed' });
    expect(r.dev.logs.some((line) => line.includes('closed postgres:Sql'))).toBe(true);
  });

  it('sql.begin() on every insert: 50 reloads under load, no transaction cut short', async () => {
    const run = `pgjs-begin-${Date.now()}`;
    const r = await start('pgjs-begin', beginDb(url, 1));
    const m = await reloadUnderLoad(r, (version) => beginDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('postgres(url), sql.begin()', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
  });

  it('drizzle(sql) over postgres.js: 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `pgjs-drizzle-${Date.now()}`;
    const r = await start('pgjs-drizzle', drizzleDb(url, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => drizzleDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('drizzle(postgres(url))', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    expect(released(from)).toContainEqual({ adapter: 'postgres', name: 'Sql', action: 'closed' });
  });
});

describe('postgres.js clients, edge cases', () => {
  it('a throwing re-evaluation keeps the previous client open and working; the next good one ends it', async () => {
    const run = `pgjs-rollback-${Date.now()}`;
    const r = await start('pgjs-rollback', sqlDb(url, 1));
    const first = await r.dev.load<{ sql: Sql; insert: (doc: object) => Promise<unknown> }>('db.ts');
    await first.insert({ run, n: 1 });
    const from = reports.length;
    // The broken body creates a client of its own before it throws.
    await r.dev.edit('db.ts', sqlDb(url, 2).replace('export async function insert', "throw new Error('boom in db.ts');\nexport async function insert"));
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
    expect(failed?.released).toEqual([{ adapter: 'postgres', name: 'Sql', action: 'closed' }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.insert({ run, n: 3 });

    await r.dev.edit('db.ts', sqlDb(url, 4));
    await serving(r.dev, 4);
    expect((await post(r.base, { run, n: 4 })).ok).toBe(true);
    // Ended: a query on it is refused.
    await until(async () => first.sql`SELECT 1`.then(() => false, (error: Error) => /CONNECTION_ENDED|ended/i.test(String(error))), 10_000, 'the previous client to end');
    await settled();
    expect(released(from)).toContainEqual({ adapter: 'postgres', name: 'Sql', action: 'closed' });
    await expectAllFound(run, [1, 2, 3, 4]);
  });

  it('a client kept on globalThis is taken back, never ended', async () => {
    const run = `pgjs-cached-${Date.now()}`;
    const cache = globalThis as { _pgjsTestSql?: Sql };
    try {
      const r = await start('pgjs-cached', cachedDb(url, 1));
      const first = await r.dev.load<{ sql: Sql }>('db.ts');
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', cachedDb(url, version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ sql: Sql }>('db.ts');
      expect(last.sql).toBe(first.sql);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await first.sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      expect(await watcher.connections()).toBe(1);
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'postgres', name: 'Sql', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound(run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache._pgjsTestSql?.end();
      delete cache._pgjsTestSql;
    }
  });

  it("names postgres.js's originCache as what keeps every generation of a file with a tagged query", async () => {
    // postgres.js caches an Error per sql`...` call site (originCache in its src/query.js), never
    // cleared; the Error's stack holds the calling function, so each generation stays alive.
    const project = new Project('pgjs-origin', { 'db.ts': '' });
    const origin = (version: number, options = '') => `import postgres from 'postgres';
export const version = ${version};
export const sql = postgres(${JSON.stringify(url)}, { max: 1${options} });
export async function select(n: number) {
  const [row] = await sql\`SELECT \${n}::int AS n\`;
  return row!.n;
}
`;
    const generations = async (options: string) => {
      project.write('db.ts', origin(1, options));
      const dev = await startVite(project, { options: { trace: true, leakAfter: 3 } });
      const from = reports.length;
      try {
        expect((await dev.load('db.ts')).select).toBeTypeOf('function');
        await (await dev.load('db.ts')).select(1);
        for (let version = 2; version <= 5; version++) {
          await dev.edit('db.ts', origin(version, options));
          await until(async () => (await dev.load('db.ts')).version === version, 15_000, `version ${version}`);
          expect(await (await dev.load('db.ts')).select(version)).toBe(version);
          await settled();
        }
        // Leaking: until the trace is in a report. Not leaking: until three reloads were measured after a GC.
        const done = options ? () => reports.slice(from).filter((r) => r.gc).length >= 3 : () => reports.slice(from).some((r) => r.retainerPath);
        await until(done, 60_000, options ? 'three measured reloads' : 'the trace');
        return reports.slice(from);
      } finally {
        unload(project.path('db.ts'));
        await dev.close();
      }
    };
    try {
      const traced = (await generations('')).find((r) => r.retainerPath);
      expect(traced?.retainerPath?.join(' -> ')).toMatch(/originCache.*closure select.*module scope of db\.ts \(generation 1\)/);
      // debug: postgres.js keeps each query's Error on the query only: nothing piles up.
      const debug = await generations(', debug: true');
      expect(debug.filter((r) => r.retainerPath)).toEqual([]);
      expect(debug.flatMap((r) => r.warnings)).toEqual([]);
    } finally {
      project.remove();
    }
  });

  it('never prints or reports a connection string', () => {
    expect(allLogs.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toMatch(/postgres(ql)?:\/\//);
    expect(allLogs.filter((line) => /postgres(ql)?:\/\//.test(line))).toEqual([]);
  });
});
