import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { renameAndInsert } from './helpers/mikro-orm.ts';
import { ownDatabase } from './helpers/own-database.ts';

// MikroORM 6 on the real PostgreSQL of the global setup (a database of its own, so its connections
// do not count in the connection-count tests beside it), under Vite 8 (oxc legacy decorators):
// an entity's required property renamed 10 times, each rename followed by an insert. Without
// orm-hmr the global metadata keeps every old property, required, and the first insert fails
// "Value for User.f0 is required".

let url: string;
let client: pg.Client;
let drop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const shared = inject('postgresUrl');
  if (!shared) throw new Error(inject('postgresMissing'));
  ({ url, drop } = await ownDatabase(shared, 'orm_hmr_mikro6'));
  client = new pg.Client(url);
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await drop?.();
});

describe('MikroORM 6 on PostgreSQL', () => {
  it.each([
    ['decorators, a MikroORM kept on globalThis (the live instance sees the new metadata)', 'MikroKept', true, false],
    ['decorators, a MikroORM made on each evaluation (it reads the global metadata)', 'MikroFresh', false, false],
    ['defineEntity({ class }), a MikroORM kept on globalThis', 'MikroDefined', true, true],
  ] as const)('10 renames of a required property, each followed by an insert: %s', async (_what, name, singleton, schema) => {
    await renameAndInsert({ url, client, name, singleton, schema, decorators: '@mikro-orm/core', options: 'pool: { min: 0, max: 2 }' });
  });
});
