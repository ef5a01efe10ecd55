import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { until } from './helpers/project.ts';
import { post, reloadUnderLoad, serving, summary, Watcher, WORKERS, type Running, postgresSuite } from './helpers/sql-load.ts';

// Prisma 7 (`new PrismaClient({ adapter: new PrismaPg(...) })` at a module's top level, the
// generated client imported through a relative path) reloaded under a bounded loopback insert
// load, against the real PostgreSQL of the global setup, pg_stat_activity sampled throughout.

const RELOADS = 50;
/** The app's pool size (`max`, handed to the pg Pool @prisma/adapter-pg makes). */
const POOL = 5;
/** Allowed above one pool while reloads come every ~120 ms: one or two previous pools may still hold the load's connections. */
const DRAIN = 2 * WORKERS;
const TABLE = 'sql_prisma_items';
const tmp = join(import.meta.dirname, '.tmp');
const generated = join(tmp, `prisma-client-${process.pid}`);

const schema = `generator client {
  provider = "prisma-client"
  output   = "./client"
}

datasource db {
  provider = "postgresql"
}

model Item {
  id  Int    @id @default(autoincrement())
  run String
  n   Int

  @@map("${TABLE}")
}
`;

/**
 * Generates the client the test apps import. \`prisma generate\` would first download a schema
 * engine; a stub in its place makes it use its WebAssembly one, so no network is needed.
 */
function generateClient(): void {
  mkdirSync(generated, { recursive: true });
  writeFileSync(join(generated, 'schema.prisma'), schema);
  const stub = join(generated, 'no-schema-engine.sh');
  writeFileSync(stub, '#!/bin/sh\nexit 1\n');
  chmodSync(stub, 0o755);
  const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  console.log('[sql-prisma] generating the Prisma client for these tests (prisma generate, offline)...');
  execFileSync(process.execPath, [cli, 'generate', '--schema', join(generated, 'schema.prisma')], {
    cwd: generated,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The import specifier of the generated client, relative to a test project's folder. */
const clientFrom = (root: string) => './' + relative(root, join(generated, 'client', 'client.ts')).replaceAll('\\', '/');

const prismaDb = (url: string, version: number, client: string) => `import 'pg'; // the pg adapter is on too: the pool PrismaPg makes must stay Prisma's
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from ${JSON.stringify(client)};

export const version = ${version};
const adapter = new PrismaPg({ connectionString: ${JSON.stringify(url)}, max: ${POOL} });
export const prisma = new PrismaClient({ adapter });

export async function insert(doc: { run: string; n: number }) {
  const row = await prisma.item.create({ data: doc });
  return row.id;
}
`;

/** Each insert in an interactive transaction: a previous client must not disconnect while one is open. */
const transactionDb = (url: string, version: number, client: string) =>
  prismaDb(url, version, client).replace(
    /export async function insert[\s\S]*$/,
    `export async function insert(doc: { run: string; n: number }) {
  return prisma.$transaction(async (tx) => {
    const row = await tx.item.create({ data: doc });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await tx.item.count({ where: { run: doc.run } });
    return row.id;
  });
}
`,
  );

/** Prisma's documented dev pattern: the client kept on globalThis. */
const cachedDb = (url: string, version: number, client: string) => `import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from ${JSON.stringify(client)};

export const version = ${version};
const globalForPrisma = globalThis as unknown as { prisma?: PrismaClient };
export const prisma = (globalForPrisma.prisma ??= new PrismaClient({ adapter: new PrismaPg({ connectionString: ${JSON.stringify(url)}, max: ${POOL} }) }));

export async function insert(doc: { run: string; n: number }) {
  const row = await prisma.item.create({ data: doc });
  return row.id;
}
`;

/** A pool of the app's own handed to the adapter: the pool is the app's (the pg adapter ends it), the client Prisma's. */
const ownPoolDb = (url: string, version: number, client: string) => `import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from ${JSON.stringify(client)};

export const version = ${version};
export const pool = new pg.Pool({ connectionString: ${JSON.stringify(url)}, max: ${POOL} });
export const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });

export async function insert(doc: { run: string; n: number }) {
  const row = await prisma.item.create({ data: doc });
  return row.id;
}
`;

/** The same, the global holding a `$extends()` client over it. */
const extendedDb = (url: string, version: number, client: string) =>
  cachedDb(url, version, client)
    .replace('{ prisma?: PrismaClient }', '{ prisma?: ReturnType<typeof extend> }')
    .replace('export const prisma = (globalForPrisma.prisma ??= new PrismaClient(', 'const extend = (c: PrismaClient) => c.$extends({ name: "versioned" });\nexport const prisma = (globalForPrisma.prisma ??= extend(new PrismaClient(')
    .replace(`max: ${POOL} }) }));`, `max: ${POOL} }) })));`);

const suite = postgresSuite('orm_hmr_prisma', TABLE);
const { reports, allLogs, released, expectAllFound } = suite;
let url: string;
let watcher: Watcher;
beforeAll(() => {
  ({ url, watcher } = suite);
  generateClient();
});
afterAll(() => rmSync(generated, { recursive: true, force: true }));

type Db = (url: string, version: number, client: string) => string;

/** Starts an app whose db.ts is `db` (the generated client's path depends on the project's folder). */
async function start(name: string, db: Db): Promise<{ r: Running; at: (version: number) => string }> {
  const running = await suite.start(name, '');
  const client = clientFrom(running.project.root);
  const at = (version: number) => db(url, version, client);
  await running.dev.edit('db.ts', at(1));
  await serving(running.dev, 1);
  return { r: running, at };
}

interface PrismaLike {
  item: { create(args: { data: object }): Promise<{ id: number }> };
  $disconnect(): Promise<void>;
}

describe('Prisma 7 clients on PostgreSQL', () => {
  it('new PrismaClient({ adapter: new PrismaPg() }): 50 reloads under load keep the connection count flat and lose no insert', async () => {
    const run = `prisma-${Date.now()}`;
    const { r, at } = await start('prisma', prismaDb);
    const from = reports.length;
    const m = await reloadUnderLoad(r, at, run, watcher, RELOADS, POOL);
    console.log(summary('new PrismaClient({ adapter })', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'prisma', name: 'PrismaClient', action: 'closed' });
    // The pool @prisma/adapter-pg makes is Prisma's: the pg adapter reports none.
    expect(actions.filter((a) => a.adapter === 'pg')).toEqual([]);
    expect(r.dev.logs.some((line) => line.includes('closed prisma:PrismaClient'))).toBe(true);
  });

  it('an interactive $transaction() on every insert: 50 reloads under load, none cut short', async () => {
    const run = `prisma-tx-${Date.now()}`;
    const { r, at } = await start('prisma-tx', transactionDb);
    const m = await reloadUnderLoad(r, at, run, watcher, RELOADS, POOL);
    console.log(summary('new PrismaClient({ adapter }), $transaction()', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
  });
});

describe('Prisma 7 clients, edge cases', () => {
  it('new PrismaPg(pool) with a pool of the app: 20 reloads under load end each pool and disconnect each client', async () => {
    const run = `prisma-pool-${Date.now()}`;
    const { r, at } = await start('prisma-pool', ownPoolDb);
    const from = reports.length;
    const m = await reloadUnderLoad(r, at, run, watcher, 20, POOL);
    console.log(summary('new PrismaClient({ adapter: new PrismaPg(pool) })', m));

    expect(m.failures).toEqual([]);
    await expectAllFound(run, m.acknowledged);
    expect(m.max).toBeLessThanOrEqual(POOL + DRAIN);
    expect(m.after).toBeLessThanOrEqual(POOL);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'prisma', name: 'PrismaClient', action: 'closed' });
    expect(actions).toContainEqual({ adapter: 'pg', name: 'Pool', action: 'closed' });
  });

  it('a throwing re-evaluation keeps the previous client open and working; the next good one disconnects it', async () => {
    const run = `prisma-rollback-${Date.now()}`;
    const { r, at } = await start('prisma-rollback', prismaDb);
    const first = await r.dev.load<{ prisma: PrismaLike; insert: (doc: object) => Promise<unknown> }>('db.ts');
    await first.insert({ run, n: 1 });
    const from = reports.length;
    // The broken body creates a client of its own before it throws.
    await r.dev.edit('db.ts', at(2).replace('export async function insert', "throw new Error('boom in db.ts');\nexport async function insert"));
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
    expect(failed?.released).toEqual([{ adapter: 'prisma', name: 'PrismaClient', action: 'closed' }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.insert({ run, n: 3 });
    expect(await watcher.connections()).toBeGreaterThanOrEqual(1);

    await r.dev.edit('db.ts', at(4));
    await serving(r.dev, 4);
    expect((await post(r.base, { run, n: 4 })).ok).toBe(true);
    await settled();
    expect(released(from)).toContainEqual({ adapter: 'prisma', name: 'PrismaClient', action: 'closed' });
    // The first client's pool is gone: only the live client's connection is left.
    await until(async () => (await watcher.connections()) === 1, 10_000, 'the previous client to disconnect');
    await expectAllFound(run, [1, 2, 3, 4]);
  });

  it.each([
    ['the client', cachedDb],
    ['a $extends() client over it', extendedDb],
  ] as const)('a global holding %s (globalForPrisma.prisma ??=): taken back, never disconnected', async (_what, db) => {
    const run = `prisma-cached-${Date.now()}`;
    const cache = globalThis as { prisma?: PrismaLike };
    try {
      const { r, at } = await start('prisma-cached', db);
      const first = await r.dev.load<{ prisma: PrismaLike }>('db.ts');
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', at(version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ prisma: PrismaLike }>('db.ts');
      expect(last.prisma).toBe(first.prisma);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await watcher.connections()).toBe(1);
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'prisma', name: 'PrismaClient', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound(run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache.prisma?.$disconnect();
      delete cache.prisma;
    }
  });

  it('never prints or reports a connection string', () => {
    expect(allLogs.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toMatch(/postgres(ql)?:\/\//);
    expect(allLogs.filter((line) => /postgres(ql)?:\/\//.test(line))).toEqual([]);
  });
});
