import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Project } from './helpers/project.ts';
import { foundIn, ownDatabase, Watcher } from './helpers/sql-load.ts';
import { runtimeFile, startWebpackApp, type WebpackDev } from './helpers/webpack.ts';

// postgres.js and Prisma 7 clients created at a module's top level in a webpack server build
// (target node, webpack/hot/poll; the packages external, as webpack-node-externals makes them, so
// postgres.js is its CommonJS entry here), the generated Prisma client bundled from a relative path.

const EDITS = 10;
const POOL = 3;
const TABLE = 'sql_webpack_items';

/** The server: never re-evaluated; it keeps what orm-hmr released, and accepts updates of the routes. */
const server = `import http from 'node:http';
import { onReport, settled } from ${JSON.stringify(runtimeFile)};
import { routes } from './app.ts';

const released = [];
onReport((record) => released.push(...record.released));
let current = routes;
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const body = url.pathname === '/released' ? (await settled(), released) : await current[url.pathname](url.searchParams);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
  }
});
server.listen(Number(process.env.PORT), '127.0.0.1');
if (import.meta.webpackHot) {
  import.meta.webpackHot.accept('./app.ts', () => (current = routes));
}
`;

const app = `import { insert, version } from './db.ts';

export const routes = {
  '/fields': () => version,
  '/insert': async (params) => ({ id: String(await insert({ run: params.get('run'), n: Number(params.get('n')) })), version }),
};
`;

const postgresDb = (url: string, version: number) => `import postgres from 'postgres';

export const version = ${version};
export const sql = postgres(${JSON.stringify(url)}, { max: ${POOL}, onnotice: () => {} });

export async function insert(doc) {
  const [row] = await sql.unsafe('INSERT INTO ${TABLE} (run, n) VALUES ($1, $2) RETURNING id', [doc.run, doc.n]);
  return row.id;
}
`;

const prismaDb = (url: string, version: number) => `import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './prisma/client/index.js';

export const version = ${version};
export const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: ${JSON.stringify(url)}, max: ${POOL} }) });

export async function insert(doc) {
  return (await prisma.item.create({ data: doc })).id;
}
`;

/** \`prisma-client-js\`: plain JavaScript, which webpack bundles without a TypeScript loader. Generated offline (a stub schema engine). */
function generatePrismaClient(project: Project): void {
  project.write('prisma/schema.prisma', `generator client {\n  provider = "prisma-client-js"\n  output   = "./client"\n}\ndatasource db {\n  provider = "postgresql"\n}\nmodel Item {\n  id  Int    @id @default(autoincrement())\n  run String\n  n   Int\n  @@map("${TABLE}")\n}\n`);
  project.write('prisma/no-schema-engine.sh', '#!/bin/sh\nexit 1\n');
  chmodSync(project.path('prisma/no-schema-engine.sh'), 0o755);
  console.log('[sql-webpack] generating a Prisma client for this test (prisma generate, offline)...');
  execFileSync(process.execPath, [createRequire(import.meta.url).resolve('prisma/build/index.js'), 'generate', '--schema', project.path('prisma/schema.prisma')], {
    cwd: project.root,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: project.path('prisma/no-schema-engine.sh'), CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

let url: string;
let watcher: Watcher;
let project: Project | undefined;
let dev: WebpackDev | undefined;

beforeAll(async () => {
  if (!inject('postgresUrl')) throw new Error(inject('postgresMissing'));
  // Its own database: other files' connections do not count.
  url = await ownDatabase(inject('postgresUrl'), 'orm_hmr_sql_webpack');
  watcher = await new Watcher(url).connect();
  await watcher.client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id serial PRIMARY KEY, run text NOT NULL, n int NOT NULL)`);
});
afterAll(() => watcher?.end());
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  project?.remove();
  project = undefined;
});

const externals = { pg: 'commonjs pg', postgres: 'commonjs postgres', '@prisma/adapter-pg': 'commonjs @prisma/adapter-pg' };

describe.each([
  ['postgres.js', postgresDb, { adapter: 'postgres', name: 'Sql' }],
  ['Prisma 7', prismaDb, { adapter: 'prisma', name: 'PrismaClient' }],
] as const)('%s in a webpack server build', (name, db, entry) => {
  it(`${EDITS} edits of the module creating the client: each previous client closed, connections flat, no insert lost`, async () => {
    const run = `webpack-${entry.adapter}-${Date.now()}`;
    project = new Project(`sql-webpack-${entry.adapter}`, { 'server.js': server, 'app.ts': app, 'db.ts': db(url, 1) });
    if (entry.adapter === 'prisma') generatePrismaClient(project);
    dev = await startWebpackApp(project, { hot: 'poll', externals });
    const acknowledged: number[] = [];
    let n = 0;
    const insert = async () => {
      const result = await dev!.get<{ id: string; version: number }>(`/insert?run=${run}&n=${++n}`);
      acknowledged.push(n);
      return result.version;
    };
    expect(await insert()).toBe(1);
    let max = 0;
    for (let version = 2; version <= EDITS + 1; version++) {
      await dev.edit('db.ts', db(url, version), async () => (await insert()) === version);
      await insert();
      max = Math.max(max, await watcher.connections());
      // As a person saves: a moment without requests, so each reload gets its own line (saves made
      // while a line waits for a quiet moment share it, with one `closed` for the lot).
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    const released = await dev.get<{ adapter: string; name: string; action: string }[]>('/released');
    console.log(`${name} under webpack: PostgreSQL connections at most ${max} over ${EDITS} edits; released ${released.length}`);
    expect(released.filter((r) => r.adapter === entry.adapter && r.action === 'closed').length).toBeGreaterThanOrEqual(EDITS - 1);
    expect(released.filter((r) => r.adapter === 'pg')).toEqual([]);
    // Without orm-hmr each edit would leave a client with its connection open.
    expect(max).toBeLessThanOrEqual(3);
    const found = new Set(await foundIn(url, TABLE, run));
    expect(acknowledged.filter((k) => !found.has(k))).toEqual([]);
    expect(dev.output.join('')).not.toMatch(/postgres(ql)?:\/\//);
  });
});
