import { betterSqlite3Adapter } from './better-sqlite3.ts';
import { knexAdapter } from './knex.ts';
import { mikroOrmAdapter } from './mikro-orm.ts';
import { mongodbAdapter } from './mongodb.ts';
import { mongooseAdapter } from './mongoose.ts';
import { mysql2Adapter } from './mysql2.ts';
import { pgAdapter } from './pg.ts';
import { postgresJsAdapter } from './postgres-js.ts';
import { prismaAdapter } from './prisma.ts';
import { sequelizeAdapter } from './sequelize.ts';
import { typegooseAdapter } from './typegoose.ts';
import { typeormAdapter } from './typeorm.ts';
import type { Adapter } from './types.ts';

/**
 * The adapters orm-hmr ships, by name. All are on by default: each stays inert until a tracked
 * module imports its package, so an ORM that is not installed costs nothing.
 */
export const builtinAdapters = {
  mongoose: mongooseAdapter,
  mongodb: mongodbAdapter,
  typegoose: typegooseAdapter,
  typeorm: typeormAdapter,
  pg: pgAdapter,
  knex: knexAdapter,
  mysql2: mysql2Adapter,
  'better-sqlite3': betterSqlite3Adapter,
  sequelize: sequelizeAdapter,
  'mikro-orm': mikroOrmAdapter,
  postgres: postgresJsAdapter,
  prisma: prismaAdapter,
} satisfies Record<string, () => Adapter>;

export type BuiltinAdapterName = keyof typeof builtinAdapters;

/** Names of the built-in adapters, in the order they list entries. */
export const builtinAdapterNames = Object.keys(builtinAdapters) as BuiltinAdapterName[];

export function isBuiltinAdapterName(name: unknown): name is BuiltinAdapterName {
  return typeof name === 'string' && Object.hasOwn(builtinAdapters, name);
}

/** Built-in names become fresh adapters; adapter objects pass through. */
export function toAdapters(chosen: readonly (BuiltinAdapterName | Adapter)[]): Adapter[] {
  return chosen.map((item) => (typeof item === 'string' ? builtinAdapters[item]() : item));
}
