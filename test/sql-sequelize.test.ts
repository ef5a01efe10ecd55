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
