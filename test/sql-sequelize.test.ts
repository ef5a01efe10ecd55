import { Sequelize } from 'sequelize';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { onReport, settled, unload, type ReloadRecord } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';
import { foundIn, ownDatabase, reloadUnderLoad, serving, startApp, stopApp, summary, Watcher, WORKERS, type Running } from './helpers/sql-load.ts';

// Sequelize 6 on the real PostgreSQL of the global setup: `new Sequelize()` at module scope
// reloaded 50 times under load, and hooks a file adds reloaded 30 times.

const RELOADS = 50;
const POOL = 5;
const DRAIN = 2 * WORKERS;
const TABLE = 'sql_sequelize_items';

const sequelizeDb = (url: string, version: number) => `import { DataTypes, Sequelize } from 'sequelize';

export const version = ${version};
export const sequelize = new Sequelize(${JSON.stringify(url)}, { logging: false, pool: { max: ${POOL} } });
const Item = sequelize.define('Item', { run: DataTypes.TEXT, n: DataTypes.INTEGER }, { tableName: '${TABLE}', timestamps: false });

export async function insert(doc: { run: string; n: number }) {
  return (await Item.create(doc)).get('id');
}
`;

let url: string;
let watcher: Watcher;
const reports: ReloadRecord[] = [];
let unsubscribe: () => void;
let running: Running | undefined;

beforeAll(async () => {
  if (!inject('postgresUrl')) throw new Error(inject('postgresMissing'));
  // Its own database: other files' connections do not count.
  url = await ownDatabase(inject('postgresUrl'), 'orm_hmr_sequelize');
  watcher = await new Watcher(url).connect();
  await watcher.client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, run text NOT NULL, n int NOT NULL)`);
  unsubscribe = onReport((record) => reports.push(record));
});
afterAll(async () => {
  unsubscribe?.();
  await watcher?.end();
});
afterEach(async () => {
  if (!running) return;
  unload(running.project.path('db.ts'));
  await stopApp(running);
  running = undefined;
});

describe('Sequelize 6 on PostgreSQL', () => {
  it('new Sequelize(): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `sequelize-${Date.now()}`;
    const r = (running = await startApp('sequelize', sequelizeDb(url, 1)));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => sequelizeDb(url, version), run, watcher, RELOADS, POOL);
    console.log(summary('new Sequelize', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    const found = new Set(await foundIn(url, TABLE, run));
    expect(found.size).toBe(m.acknowledged.length);
    expect(m.acknowledged.filter((n) => !found.has(n))).toEqual([]);
    // On a loaded machine saves can outpace a drain: two previous pools may still be finishing their requests (Node 24 CI-like run: 13). Without orm-hmr: one pool more per reload, 50+.
    expect(m.max).toBeLessThanOrEqual(POOL + 2 * DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    const actions = reports.slice(from).flatMap((record) => record.released);
    expect(actions).toContainEqual({ adapter: 'sequelize', name: 'Sequelize', action: 'closed' });
    // Sequelize's own pg clients are Sequelize's: the pg adapter reports none of them.
    expect(actions.filter((a) => a.adapter === 'pg')).toEqual([]);
  });

  it('an instance whose first query is still asking the server version when its file re-evaluates is closed after that query, not under it', async () => {
    // Seen in CI under load: each new instance's first query opens a connection of its own, outside
    // the pool, to read the version; the pool looked idle, the instance was closed, and the
    // requests waiting on that version then failed with "pool is draining". A slow
    // `beforeConnect` (a token fetched per connection) makes the window as wide as on a loaded machine.
    const db = (version: number) => `import { DataTypes, Sequelize } from 'sequelize';
export const version = ${version};
export const sequelize = new Sequelize(${JSON.stringify(url)}, { logging: false, hooks: { beforeConnect: () => new Promise((resolve) => setTimeout(resolve, 400)) } });
const Item = sequelize.define('SlowItem', { run: DataTypes.TEXT, n: DataTypes.INTEGER }, { tableName: '${TABLE}', timestamps: false });
export async function insert(doc: { run: string; n: number }) {
  return (await Item.create(doc)).get('id');
}
`;
    const run = `version-probe-${Date.now()}`;
    const project = new Project('sql-sequelize-version-probe', { 'db.ts': db(1) });
    const dev = await startVite(project);
    type Db = { version: number; sequelize: Sequelize; insert(doc: object): Promise<unknown> };
    try {
      const first = await dev.load<Db>('db.ts');
      const from = reports.length;
      const inserted = first.insert({ run, n: 1 });
      await dev.edit('db.ts', db(2));
      await until(async () => (await dev.load<Db>('db.ts')).version === 2, 15_000, 'version 2');
      await expect(inserted).resolves.toBeDefined();
      await until(() => reports.slice(from).some((record) => record.released.some((a) => a.adapter === 'sequelize' && a.action === 'closed')), 10_000, 'the release');
      // Closed once that insert was done: its pool drains (what made the inserts fail before).
      const pool = (first.sequelize as unknown as { connectionManager: { pool: { _draining: boolean } } }).connectionManager.pool;
      await until(() => pool._draining, 10_000, 'the previous instance to close');
      await (await dev.load<Db>('db.ts')).insert({ run, n: 2 });
      expect((await foundIn(url, TABLE, run)).sort()).toEqual([1, 2]);
      await (await dev.load<Db>('db.ts')).sequelize.close();
    } finally {
      unload(project.path('db.ts'));
      await dev.close();
      project.remove();
    }
  });

  it("the constructor's hooks option stays with its instance: a global one keeps it over reloads", async () => {
    // `hooks: { beforeConnect }` is how a token per connection is fetched (RDS IAM). The instance a
    // global keeps is not constructed again, so removing those hooks on reload would lose them.
    const db = (version: number) => `import { DataTypes, Sequelize } from 'sequelize';
export const version = ${version};
const calls = ((globalThis as { __sqlConnectCalls?: string[] }).__sqlConnectCalls ??= []);
const cache = globalThis as { __sqlHookedSequelize?: Sequelize };
export const sequelize = (cache.__sqlHookedSequelize ??= new Sequelize(${JSON.stringify(url)}, {
  logging: false,
  hooks: { beforeConnect: () => void calls.push('beforeConnect') },
}));
export const Item = sequelize.define('GlobalItem', { run: DataTypes.TEXT, n: DataTypes.INTEGER }, { tableName: '${TABLE}', timestamps: false });
`;
    const project = new Project('sql-sequelize-constructor-hooks', { 'db.ts': db(1) });
    const dev = await startVite(project);
    const calls = ((globalThis as { __sqlConnectCalls?: string[] }).__sqlConnectCalls = []);
    type Db = { version: number; sequelize: Sequelize; Item: { create(v: object): Promise<unknown> } };
    try {
      await dev.load('db.ts');
      for (let version = 2; version <= 4; version++) {
        await dev.edit('db.ts', db(version));
        await until(async () => (await dev.load<Db>('db.ts')).version === version, 15_000, `version ${version}`);
      }
      await settled();
      const { sequelize, Item } = await dev.load<Db>('db.ts');
      const hooks = (sequelize as unknown as { options: { hooks: Record<string, unknown[] | undefined> } }).options.hooks;
      expect(hooks.beforeConnect?.length).toBe(1);
      await Item.create({ run: `constructor-hooks-${Date.now()}`, n: 1 });
      expect(calls.length).toBeGreaterThan(0);
      await sequelize.close();
    } finally {
      unload(project.path('db.ts'));
      await dev.close();
      project.remove();
      delete (globalThis as { __sqlConnectCalls?: string[] }).__sqlConnectCalls;
      delete (globalThis as { __sqlHookedSequelize?: Sequelize }).__sqlHookedSequelize;
    }
  });

  it('hooks a file adds (instance, model, static) stay one each over 30 reloads, and the latest runs', async () => {
    const db = `import { DataTypes, Sequelize } from 'sequelize';
export const sequelize = new Sequelize(${JSON.stringify(url)}, { logging: false });
export const Item = sequelize.define('HookedItem', { run: DataTypes.TEXT, n: DataTypes.INTEGER }, { tableName: '${TABLE}', timestamps: false });
`;
    const hooks = (version: number) => `import { Sequelize } from 'sequelize';
import { Item, sequelize } from './db.ts';

export const version = ${version};
const calls = ((globalThis as { __sqlHookCalls?: string[] }).__sqlHookCalls ??= []);
sequelize.addHook('beforeCreate', () => void calls.push('sequelize ${version}'));
Item.addHook('beforeCreate', 'stamp', () => void calls.push('model ${version}'));
Item.beforeValidate(() => void calls.push('shorthand ${version}'));
Sequelize.addHook('beforeDefine', () => void calls.push('static ${version}'));
`;
    const project = new Project('sql-sequelize-hooks', { 'db.ts': db, 'hooks.ts': hooks(1) });
    const dev = await startVite(project);
    const calls = ((globalThis as { __sqlHookCalls?: string[] }).__sqlHookCalls = []);
    try {
      await dev.load('hooks.ts');
      for (let version = 2; version <= 31; version++) {
        await dev.edit('hooks.ts', hooks(version));
        await until(async () => (await dev.load('hooks.ts')).version === version, 15_000, `version ${version}`);
      }
      await settled();
      const { sequelize, Item } = await dev.load<{ sequelize: Sequelize; Item: { options: { hooks: Record<string, unknown[]> }; create(v: object): Promise<unknown> } }>('db.ts');
      const count = (hooks: Record<string, unknown[] | undefined>, type: string) => hooks[type]?.length ?? 0;
      const sequelizeHooks = (sequelize as unknown as { options: { hooks: Record<string, unknown[]> } }).options.hooks;
      const staticHooks = (Sequelize as unknown as { options: { hooks: Record<string, unknown[]> } }).options.hooks;
      expect(count(sequelizeHooks, 'beforeCreate')).toBe(1);
      expect(count(Item.options.hooks, 'beforeCreate')).toBe(1);
      expect(count(Item.options.hooks, 'beforeValidate')).toBe(1);
      expect(count(staticHooks, 'beforeDefine')).toBe(1);
      calls.length = 0;
      await Item.create({ run: `hooks-${Date.now()}`, n: 1 });
      expect(calls.sort()).toEqual(['model 31', 'sequelize 31', 'shorthand 31']);
      await sequelize.close();
    } finally {
      unload(project.path('hooks.ts'));
      unload(project.path('db.ts'));
      await dev.close();
      project.remove();
      delete (globalThis as { __sqlHookCalls?: string[] }).__sqlHookCalls;
    }
  });
});
