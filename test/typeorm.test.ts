import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { getMetadataArgsStorage } from 'typeorm';
import { onReport, settled } from '../dist/runtime/index.js';
import type { ReloadRecord } from '../dist/runtime/index.js';
import { Project, startVite, until, type Dev } from './helpers/project.ts';
import { countAlive } from './helpers/scenarios.ts';
import { app, decoratorsTsconfig, entity, moduleDataSource, mongoApp, mongoDataSource, mongoEntity, singletonDataSource } from './helpers/typeorm-fixtures.ts';

let counter = 0;

/** File descriptors of this process open on `file`: one per SQLite connection. */
function openHandles(file: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // Closed while we listed.
    }
  }
  return count;
}

function argsOf(name: string) {
  const storage = getMetadataArgsStorage();
  const isTarget = (args: { target: unknown }) => typeof args.target === 'function' && args.target.name === name;
  return { tables: storage.tables.filter(isTarget), columns: storage.columns.filter(isTarget).map((c) => c.propertyName) };
}

describe('typeorm through Vite ssrLoadModule (SQLite via better-sqlite3, and MongoDB)', () => {
  let project: Project | undefined;
  let dev: Dev | undefined;
  afterEach(async () => {
    await dev?.close();
    project?.remove();
    dev = project = undefined;
  });

  async function open(files: (name: string, database: string) => Record<string, string>, options = {}) {
    const name = `T${++counter}User`;
    project = new Project('typeorm', {});
    const database = project.path('app.sqlite');
    for (const [file, content] of Object.entries({ 'tsconfig.json': decoratorsTsconfig, ...files(name, database) })) project.write(file, content);
    dev = await startVite(project, { options });
    return { name, database, file: `entities/${name.toLowerCase()}.ts` };
  }

  /** Loads app.ts until its entity is generation `version` (each load is a request). */
  async function request(version: number | string) {
    return until(async () => {
      const loaded = await dev!.load('app.ts');
      return loaded.Entity.version === String(version) && loaded;
    }, 20_000, `generation ${version}`);
  }

  it('on the MongoDB driver (FerretDB), the live DataSource uses an edited entity on the next request', async () => {
    const { name, file } = await open((name) => ({
      [`entities/${name.toLowerCase()}.ts`]: mongoEntity(name, 1),
      'db.ts': mongoDataSource(`__typeorm_${name}`, inject('mongoUri'), name),
      'app.ts': mongoApp(name),
    }));
    let loaded = await request(1);
    expect((await loaded.handle({ name: 'ada' })).name).toBe('ada');
    const { dataSource } = loaded;
    try {
      for (let version = 2; version <= 3; version++) {
        await dev!.edit(file, mongoEntity(name, version, [`c${version}`]));
        loaded = await request(version);
        expect(loaded.dataSource).toBe(dataSource);
        const row = await loaded.handle({ name: `v${version}`, [`c${version}`]: `value ${version}` });
        expect(row).toBeInstanceOf(loaded.Entity);
        expect(row[`c${version}`]).toBe(`value ${version}`);
        const raw = await dataSource.mongoManager.getMongoRepository(loaded.Entity).findOneBy({ _id: row._id });
        expect(raw[`c${version}`]).toBe(`value ${version}`);
      }
      expect(argsOf(name).tables).toHaveLength(1);
    } finally {
      await dataSource.destroy();
    }
  });

  it('the live DataSource uses an edited entity on the next request: new column written and read', async () => {
    const { name, file, database } = await open((name, database) => ({
      [`entities/${name.toLowerCase()}.ts`]: entity(name, 1),
      'db.ts': singletonDataSource(`__typeorm_${name}`, database, name),
      'app.ts': app(name),
    }));
    let loaded = await request(1);
    expect((await loaded.handle({ name: 'ada' })).name).toBe('ada');
    const { dataSource } = loaded;
    const reused: string[] = [];
    const stop = onReport((record) => reused.push(...record.released.filter((r) => r.action === 'reused').map((r) => `${r.adapter}:${r.name}`)));
    for (let version = 2; version <= 4; version++) {
      const started = performance.now();
      await dev!.edit(file, entity(name, version, [`c${version}`]));
      loaded = await request(version);
      const row = await loaded.handle({ name: `v${version}`, [`c${version}`]: `value ${version}` });
      console.log(`typeorm reload ${version}: ${(performance.now() - started).toFixed(0)} ms from save to a request that used the new column`);
      expect(loaded.dataSource).toBe(dataSource); // the same live DataSource, not a new one
      expect(row[`c${version}`]).toBe(`value ${version}`);
      const [raw] = await dataSource.query(`SELECT "c${version}" AS value FROM "${name.toLowerCase()}" WHERE id = ?`, [row.id]);
      expect(raw.value).toBe(`value ${version}`);
      expect(dataSource.getMetadata(loaded.Entity).columns.map((c: { propertyName: string }) => c.propertyName)).toEqual(['id', 'name', `c${version}`]);
      expect(dataSource.hasMetadata(loaded.Entity)).toBe(true);
      await settled();
    }
    stop();
    // db.ts re-evaluates with its importer each time and takes its globalThis DataSource back: said each time.
    expect(reused).toEqual(['typeorm:DataSource', 'typeorm:DataSource', 'typeorm:DataSource']);
    expect(openHandles(database)).toBe(1);
  });

  it('keeps one entry per table and column, and one generation, over 30 reloads', async () => {
    const { name, file, database } = await open((name, database) => ({
      [`entities/${name.toLowerCase()}.ts`]: entity(name, 0, ['c0']),
      'db.ts': singletonDataSource(`__typeorm_${name}`, database, name),
      'app.ts': app(name),
    }));
    const classes: WeakRef<object>[] = [];
    const reloadMs: number[] = [];
    // In a function of its own, so this test's frames hold no generation while we count.
    const step = async (version: number) => {
      const started = performance.now();
      if (version > 0) await dev!.edit(file, entity(name, version, [`c${version}`]));
      const loaded = await request(version);
      expect((await loaded.handle({ name: 'n', [`c${version}`]: 'v' }))[`c${version}`]).toBe('v');
      if (version > 0) reloadMs.push(performance.now() - started);
      classes.push(new WeakRef(loaded.Entity));
    };
    for (let version = 0; version <= 30; version++) await step(version);
    const record = await settled();
    const args = argsOf(name);
    expect(args.tables).toHaveLength(1);
    expect(args.columns).toEqual(['id', 'name', 'c30']);
    expect(record?.alive[name]).toBe(1);
    expect(await countAlive(classes)).toBe(1);
    const storage = getMetadataArgsStorage();
    const sizes = Object.fromEntries(Object.entries(storage).filter(([, v]) => Array.isArray(v) && v.length > 0).map(([k, v]) => [k, (v as unknown[]).length]));
    reloadMs.sort((a, b) => a - b);
    console.log(`typeorm 30 reloads: median ${reloadMs[15]!.toFixed(0)} ms, max ${reloadMs.at(-1)!.toFixed(0)} ms from save to a request using the new column; storage ${JSON.stringify(sizes)}; purgeMs ${record?.purgeMs}`);
    expect(openHandles(database)).toBe(1);
  });

  it('rolls back a throwing evaluation: the previous entity keeps working, the next good save recovers', async () => {
    const { name, file } = await open((name, database) => ({
      [`entities/${name.toLowerCase()}.ts`]: entity(name, 1, ['kept']),
      'db.ts': singletonDataSource(`__typeorm_${name}`, database, name),
      'app.ts': app(name),
    }));
    const before = await request(1);
    await dev!.edit(file, entity(name, 2, ['kept', 'lost'], `throw new Error('boom in the entity file');\n`));
    await until(async () => {
      try {
        await dev!.load('app.ts');
        return false;
      } catch (error) {
        return /boom in the entity file/.test(String(error));
      }
    });
    // The failed body's decorators are gone, the previous ones are back.
    expect(argsOf(name)).toEqual({ tables: [expect.objectContaining({ target: before.Entity })], columns: ['id', 'name', 'kept'] });
    expect((await before.handle({ name: 'still served', kept: 'yes' })).kept).toBe('yes');
    expect(before.dataSource.getMetadata(before.Entity).columns.map((c: { propertyName: string }) => c.propertyName)).toEqual(['id', 'name', 'kept']);
    expect(dev!.logs.filter((line) => line.includes('threw while evaluating'))).toHaveLength(1);

    await dev!.edit(file, entity(name, 3, ['kept', 'fresh']));
    const after = await request(3);
    const row = await after.handle({ name: 'recovered', kept: 'k', fresh: 'f' });
    expect(row).toMatchObject({ kept: 'k', fresh: 'f' });
    expect(argsOf(name).columns).toEqual(['id', 'name', 'kept', 'fresh']);
    expect(argsOf(name).tables).toHaveLength(1);
  });

  it('closes a module-scope DataSource its file replaced, once its open transaction ends', async () => {
    const reports: ReloadRecord[] = [];
    const unsubscribe = onReport((record) => reports.push(record));
    try {
      const { name, database } = await open((name, database) => ({
        [`entities/${name.toLowerCase()}.ts`]: entity(name, 1),
        'db.ts': moduleDataSource(database, name, 0),
        'app.ts': app(name),
      }));
      const first = await dev!.load('app.ts');
      await first.handle({ name: 'first' });
      const old = first.dataSource;
      // A request of the old generation, mid-transaction while the file reloads.
      let finish!: () => void;
      const release = new Promise<void>((resolve) => (finish = resolve));
      let inserted!: () => void;
      const firstInsert = new Promise<void>((resolve) => (inserted = resolve));
      const transaction = old.transaction(async (manager: any) => {
        await manager.insert(first.Entity, { name: 'tx-1' });
        inserted();
        await release;
        await manager.insert(first.Entity, { name: 'tx-2' });
      });
      await firstInsert;

      await dev!.edit('db.ts', moduleDataSource(database, name, 1));
      const second = await until(async () => {
        const loaded = await dev!.load('db.ts');
        return loaded.version === 1 && loaded;
      });
      expect(second.dataSource).not.toBe(old);
      await until(() => reports.some((r) => r.released.some((x) => x.adapter === 'typeorm' && x.action === 'closed')), 10_000, 'a closed DataSource in the report');
      // Released, but its transaction is still open: not closed yet.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(old.isInitialized).toBe(true);
      finish();
      await transaction;
      await until(() => !old.isInitialized, 5_000, 'the old DataSource to close');
      expect((await second.dataSource.getRepository(second.dataSource.entityMetadatas[0].target).findBy({})).map((r: { name: string }) => r.name)).toEqual(['first', 'tx-1', 'tx-2']);

      // Nine more: one connection stays open, the current one.
      const sources: WeakRef<object>[] = [new WeakRef(old)];
      for (let version = 2; version <= 10; version++) {
        await dev!.edit('db.ts', moduleDataSource(database, name, version));
        const loaded = await until(async () => {
          const loaded = await dev!.load('db.ts');
          return loaded.version === version && loaded;
        });
        sources.push(new WeakRef(loaded.dataSource));
      }
      await settled();
      await until(() => openHandles(database) === 1, 5_000, 'one open SQLite handle');
      const live = sources.map((ref) => ref.deref() as { isInitialized: boolean } | undefined);
      expect(live.filter((source) => source?.isInitialized)).toHaveLength(1);
      expect(live.at(-1)?.isInitialized).toBe(true);
    } finally {
      unsubscribe();
    }
  });
});

