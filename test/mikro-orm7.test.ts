import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { renameAndInsert } from './helpers/mikro-orm.ts';
import { ownDatabase } from './helpers/own-database.ts';

// MikroORM 7 needs Node 22.17+: test/mikro-orm7-app's engines keep this file out of a run on an
// older Node (vitest.config.ts); it runs in `npm run test:node24`. Its projects are written under
// that app, so they resolve its MikroORM 7 (ESM only; decorators in @mikro-orm/decorators).
const base = join(import.meta.dirname, 'mikro-orm7-app', '.tmp');

let url: string;
let client: pg.Client;
let drop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const shared = inject('postgresUrl');
  if (!shared) throw new Error(inject('postgresMissing'));
  ({ url, drop } = await ownDatabase(shared, 'orm_hmr_mikro7'));
  client = new pg.Client(url);
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await drop?.();
});

describe('MikroORM 7 on PostgreSQL', () => {
  it.each([
    ['decorators, a MikroORM kept on globalThis (the live instance sees the new metadata)', 'Mikro7Kept', true, false],
    ['decorators, a MikroORM made on each evaluation', 'Mikro7Fresh', false, false],
    ['defineEntity({ class }), a MikroORM kept on globalThis', 'Mikro7Defined', true, true],
  ] as const)('10 renames of a required property, each followed by an insert: %s', async (_what, name, singleton, schema) => {
    await renameAndInsert({ url, client, name, singleton, schema, decorators: '@mikro-orm/decorators/legacy', base, maxAlive: 3 });
  });
});
