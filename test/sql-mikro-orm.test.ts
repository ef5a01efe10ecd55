import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { renameAndInsert } from './helpers/mikro-orm.ts';

// MikroORM 6 on the real PostgreSQL of the global setup, under Vite 8 (oxc's legacy decorators):
// an entity's required property renamed 10 times, each rename followed by an insert. Without
// orm-hmr the global metadata keeps every old property, required, and the first insert fails
// "Value for User.f0 is required".

let url: string;
let client: pg.Client;

beforeAll(async () => {
  url = inject('postgresUrl');
  if (!url) throw new Error(inject('postgresMissing'));
  client = new pg.Client(url);
  await client.connect();
});
afterAll(async () => {
  await client?.end();
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
