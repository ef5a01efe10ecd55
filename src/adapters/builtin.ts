import { builtin } from '../util/builtin.ts';
import type { Adapter } from './types.ts';

/** Where a built-in adapter lives: the packages it handles, its file in this folder and the factory that file exports. */
interface BuiltinAdapterFile {
  readonly packages: readonly string[];
  readonly file: string;
  readonly factory: string;
}

/**
 * The adapters orm-hmr ships, by name, in the order they list entries. All are on by default, and
 * each stays inert, its file not even loaded, until a tracked module imports one of its packages:
 * an ORM the app does not use costs nothing. `packages` repeats each adapter's own list, which the
 * runtime needs up front (test/adapters-builtin.test.ts holds the two equal).
 */
const builtinFiles = {
  mongoose: { packages: ['mongoose'], file: 'mongoose', factory: 'mongooseAdapter' },
  mongodb: { packages: ['mongodb'], file: 'mongodb', factory: 'mongodbAdapter' },
  typegoose: { packages: ['@typegoose/typegoose'], file: 'typegoose', factory: 'typegooseAdapter' },
  typeorm: { packages: ['typeorm'], file: 'typeorm', factory: 'typeormAdapter' },
  pg: { packages: ['pg', 'drizzle-orm'], file: 'pg', factory: 'pgAdapter' },
  knex: { packages: ['knex'], file: 'knex', factory: 'knexAdapter' },
  mysql2: { packages: ['mysql2', 'mysql2/promise', 'drizzle-orm'], file: 'mysql2', factory: 'mysql2Adapter' },
  'better-sqlite3': { packages: ['better-sqlite3', 'drizzle-orm'], file: 'better-sqlite3', factory: 'betterSqlite3Adapter' },
  sequelize: { packages: ['sequelize'], file: 'sequelize', factory: 'sequelizeAdapter' },
  'mikro-orm': {
    packages: [
      '@mikro-orm/core',
      '@mikro-orm/decorators',
      '@mikro-orm/postgresql',
      '@mikro-orm/mysql',
      '@mikro-orm/mariadb',
      '@mikro-orm/sqlite',
      '@mikro-orm/better-sqlite',
      '@mikro-orm/libsql',
      '@mikro-orm/mssql',
      '@mikro-orm/mongodb',
      '@mikro-orm/knex',
      '@mikro-orm/sql',
    ],
    file: 'mikro-orm',
    factory: 'mikroOrmAdapter',
  },
  postgres: { packages: ['postgres'], file: 'postgres-js', factory: 'postgresJsAdapter' },
  prisma: { packages: ['@prisma/adapter-pg', '@prisma/client'], file: 'prisma', factory: 'prismaAdapter' },
} as const satisfies Record<string, BuiltinAdapterFile>;

export type BuiltinAdapterName = keyof typeof builtinFiles;

/** The packages a built-in adapter handles: its file takes its list from here (mikro-orm's is long). */
export function builtinPackages(name: BuiltinAdapterName): readonly string[] {
  return builtinFiles[name].packages;
}

/** Names of the built-in adapters, in the order they list entries. */
export const builtinAdapterNames = Object.keys(builtinFiles) as BuiltinAdapterName[];

export function isBuiltinAdapterName(name: unknown): name is BuiltinAdapterName {
  return typeof name === 'string' && Object.hasOwn(builtinFiles, name);
}

/** Built-in names become fresh adapters; adapter objects pass through. */
export function toAdapters(chosen: readonly (BuiltinAdapterName | Adapter)[]): Adapter[] {
  return chosen.map((item) => (typeof item === 'string' ? builtinAdapter(item) : item));
}

/**
 * A built-in adapter whose file is loaded the first time a tracked module hands it one of its
 * packages (or the runtime finds one the app has loaded). Until then it has attached nothing and
 * holds no entries, as the adapter itself would. All built-ins report their registrations.
 */
export function builtinAdapter(name: BuiltinAdapterName): Adapter {
  let adapter: Adapter | undefined;
  const load = () => (adapter ??= loadBuiltinAdapter(name));
  return {
    name,
    packages: builtinFiles[name].packages,
    reports: true,
    attach: (namespace, specifier, context) => load().attach?.(namespace, specifier, context),
    attached: () => adapter?.attached?.() ?? false,
    entries: () => adapter?.entries() ?? [],
    committed: (entries) => adapter?.committed?.(entries),
    detach: () => adapter?.detach?.(),
  };
}

/**
 * The adapter itself, its file required now, synchronously (a module is being evaluated and
 * registers right after): Node 20.19+ requires ES modules. `.js` when installed, `.ts` when this
 * repo runs from source. Through `process.getBuiltinModule`, which bundlers leave alone.
 */
export function loadBuiltinAdapter(name: BuiltinAdapterName): Adapter {
  const { file, factory } = builtinFiles[name];
  const here = new URL(import.meta.url);
  const require = builtin<typeof import('node:module')>('node:module')?.createRequire(here);
  if (!require) throw new Error('built-in adapters load with Node.js require(), which is not available here');
  const extension = here.pathname.slice(here.pathname.lastIndexOf('.'));
  const exports = require(`./${file}${extension}`) as Record<string, () => Adapter>;
  return exports[factory]!();
}
