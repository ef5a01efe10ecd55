import type pg from 'pg';
import { expect } from 'vitest';
import { onReport, settled, unload } from '../../dist/runtime/index.js';
import { Project, startVite, until } from './project.ts';

// MikroORM entity, ORM and app files as a user writes them, and the rename scenario
// test/sql-mikro-orm.test.ts (MikroORM 6) and test/mikro-orm7.test.ts (7, Node 22+) both run.

export const RENAMES = 10;
const decoratorsTsconfig = JSON.stringify({ compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false, target: 'ES2022' } });

export interface Scenario {
  url: string;
  client: pg.Client;
  /** Entity class name, unique per test: the global metadata is shared by the whole test process. */
  name: string;
  /** `MikroORM.init()` once, kept on globalThis; otherwise on each evaluation of db.ts. */
  singleton: boolean;
  /** `defineEntity({ class })` rather than decorators. */
  schema: boolean;
  /** Where the decorators come from: `@mikro-orm/core` (6) or `@mikro-orm/decorators/legacy` (7). */
  decorators: string;
  /** Options added to `MikroORM.init()` (6's knex pool: `pool: { min: 0, max: 2 }`). */
  options?: string;
  /** Folder the project is written under, so its packages resolve from there (default test/.tmp). */
  base?: string;
  /**
   * Generations of the entity class a measured record may count alive with a live MikroORM: the
   * current one and the previous one (an entity of it may still be on a stack); MikroORM 7's
   * private discovery also keeps the first.
   */
  maxAlive?: number;
}

/** An entity with one required text property `f<version>`. */
const entity = (name: string, table: string, version: number, decorators: string) => `import { Entity, PrimaryKey, Property } from '${decorators}';

@Entity({ tableName: '${table}' })
export class ${name} {
  static version = ${version};
  @PrimaryKey({ type: 'number' }) id!: number;
  @Property({ type: 'string' }) name!: string;
  @Property({ type: 'string' }) f${version}!: string;
}
`;

/** The same entity as a class plus \`defineEntity({ class })\` (MikroORM 6.5+'s schema builder, no decorators). */
const schemaEntity = (name: string, table: string, version: number) => `import { defineEntity } from '@mikro-orm/core';

export class ${name} {
  static version = ${version};
  id!: number;
  name!: string;
  f${version}!: string;
}
export const ${name}Schema = defineEntity({
  class: ${name},
  tableName: '${table}',
  properties: (p) => ({ id: p.integer().primary(), name: p.string(), f${version}: p.string() }),
});
`;

/** An entity in another file with a relation to it: its metadata must follow the new class too. */
const note = (name: string, table: string, decorators: string) => `import { Entity, ManyToOne, PrimaryKey, Property } from '${decorators}';
import { ${name} } from './${name.toLowerCase()}.ts';

@Entity({ tableName: '${table}_notes' })
export class ${name}Note {
  @PrimaryKey({ type: 'number' }) id!: number;
  @Property({ type: 'string' }) text!: string;
  @ManyToOne(() => ${name}) owner!: ${name};
}
`;

/** `MikroORM.init()` once, kept on globalThis (the dev singleton), or on each evaluation of db.ts. */
const db = (url: string, name: string, singleton: boolean, schema: boolean, options: string) => {
  const init = `MikroORM.init({ clientUrl: ${JSON.stringify(url)}, entities: [${name}${schema ? 'Schema' : ''}, ${name}Note], debug: false${options ? `, ${options}` : ''} })`;
  return `import { MikroORM } from '@mikro-orm/postgresql';
import { ${name}${schema ? `Schema` : ''} } from './entities/${name.toLowerCase()}.ts';
import { ${name}Note } from './entities/note.ts';

const slot = globalThis as { __mikro${name}?: Promise<MikroORM>; __mikroAll?: MikroORM[] };
${singleton ? `export const orm = await (slot.__mikro${name} ??= ${init});` : `export const orm = await ${init};`}
(slot.__mikroAll ??= []).push(orm);
`;
};

/** The request handler: inserts through a fork of the ORM's entity manager, reads the row back. */
const app = (name: string) => `import { orm } from './db.ts';
import { ${name} } from './entities/${name.toLowerCase()}.ts';
import { ${name}Note } from './entities/note.ts';

export { ${name} as Entity, orm };
/** Inserts a row and a note owned by it, changes the renamed property (an update: compiled comparators), reads both back. */
export async function insert(fields: Record<string, string>, field: string) {
  const em = orm.em.fork();
  const row = em.create(${name}, fields as never);
  em.create(${name}Note, { text: 'note of ' + fields.name, owner: row } as never);
  await em.flush();
  (row as Record<string, unknown>)[field] += ' updated';
  await em.flush();
  const read = orm.em.fork();
  const note = await read.findOneOrFail(${name}Note, { owner: row.id } as never, { populate: ['owner'] as never });
  return { row: await read.findOneOrFail(${name}, { id: row.id }), note };
}
`;

interface Loaded {
  Entity: { version: number };
  orm: { getMetadata(): { get(name: string): { properties: Record<string, unknown> } }; close(): Promise<void> };
  insert(fields: Record<string, string>, field: string): Promise<{ row: Record<string, unknown>; note: { text: string; owner: Record<string, unknown> } }>;
}

/**
 * An entity's required property renamed RENAMES times (the column renamed with SQL, as a migration
 * would), each rename followed by an insert, an update and a populated read through the app.
 */
export async function renameAndInsert({ url, client, name, singleton, schema, decorators, options = '', base, maxAlive = 2 }: Scenario): Promise<void> {
  const suffix = `${process.pid}_${Date.now()}`;
  const write = (version: number) => (schema ? schemaEntity(name, table, version) : entity(name, table, version, decorators));
  const table = `sql_mikro_${name.toLowerCase()}_${suffix}`;
  const file = `entities/${name.toLowerCase()}.ts`;
  await client.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL, f1 text NOT NULL)`);
  await client.query(`CREATE TABLE ${table}_notes (id serial PRIMARY KEY, text text NOT NULL, owner_id int NOT NULL REFERENCES ${table} (id))`);
  const project = new Project('sql-mikro-orm', {
    'tsconfig.json': decoratorsTsconfig,
    [file]: write(1),
    'entities/note.ts': note(name, table, decorators),
    'db.ts': db(url, name, singleton, schema, options),
    'app.ts': app(name),
  }, base);
  const dev = await startVite(project);
  // Generations of the entity class alive after GC, in each record that was measured.
  const alive: number[] = [];
  const off = onReport((record) => {
    if (record.gc && record.alive[name] !== undefined) alive.push(record.alive[name]!);
  });
  const slot = globalThis as { __mikroAll?: Loaded['orm'][] };
  try {
    const inserted: string[] = [];
    const connections: number[] = [];
    const count = async () => (await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0].n as number;
    for (let version = 1; version <= RENAMES + 1; version++) {
      if (version > 1) {
        // The migration a user would run for the rename.
        await client.query(`ALTER TABLE ${table} RENAME COLUMN f${version - 1} TO f${version}`);
        await dev.edit(file, write(version));
      }
      const loaded = await until(async () => {
        const current = await dev.load<Loaded>('app.ts');
        return current.Entity.version === version && current;
      }, 15_000, `${name} version ${version}`);
      await settled();
      const { row, note } = await loaded.insert({ name: `row ${version}`, [`f${version}`]: `value ${version}` }, `f${version}`);
      expect(row[`f${version}`]).toBe(`value ${version} updated`);
      expect(note.text).toBe(`note of row ${version}`);
      expect(note.owner[`f${version}`]).toBe(`value ${version} updated`);
      inserted.push(String(row.name));
      connections.push(await count());
      expect(Object.keys(loaded.orm.getMetadata().get(name).properties)).toEqual(['id', 'name', `f${version}`]);
      if (!schema) {
        const global = Object.values((globalThis as unknown as Record<string, Record<string, { className: string; properties: object }>>)['mikro-orm-metadata']).filter((meta) => meta.className === name);
        expect(global.map((meta) => Object.keys(meta.properties))).toEqual([['id', 'name', `f${version}`]]);
      }
    }
    expect(inserted).toHaveLength(RENAMES + 1);
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0].n).toBe(RENAMES + 1);
    if (singleton) expect(new Set(slot.__mikroAll).size).toBe(1);
    // A MikroORM made on each evaluation: the previous one closed once idle, so the connections stay
    // those of one or two ORMs (pool max 2 each), not one more pool per rename.
    else expect(Math.max(...connections), `connections after each rename: ${connections.join(', ')}`).toBeLessThanOrEqual(4);
    // Not one more per reload: every generation would stay if the ORM's compiled code, or a
    // rediscovery's closures, kept each class.
    if (singleton) expect(alive.filter((n) => n > maxAlive)).toEqual([]);
  } finally {
    for (const file of ['app.ts', 'db.ts', 'entities/note.ts', `entities/${name.toLowerCase()}.ts`]) unload(project.path(file));
    for (const orm of new Set(slot.__mikroAll?.splice(0))) await orm.close();
    off();
    await dev.close();
    project.remove();
  }
}
