// SQL connections after 50 reloads, without and with orm-hmr: a module creating a pg Pool (max 5)
// at its top level, edited 50 times while 3 loops insert through it, on a throwaway PostgreSQL
// (Debian's package, db/postgres.js); then the same with a mysql2 pool (connectionLimit 5) on a
// throwaway MariaDB (Debian's mariadb-server, db/mariadb.js). Each server counts the connections
// itself (pg_stat_activity, information_schema.PROCESSLIST). Prints one JSON line:
// { reloads, pool, workers, plain: {...}, 'orm-hmr': {...}, mysql2: { plain, 'orm-hmr' } } (the
// top-level pair is pg's; `clients` has a postgres.js client (`postgres(url, { max: 5 })`) and a
// Prisma 7 client over @prisma/adapter-pg (`max: 5`) on the same PostgreSQL). Alone: `npm run build && node bench/sql-connections.js [reloads]`; each
// strategy runs in a child.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startMariadb } from '../db/mariadb.js';
import { startPostgres } from '../db/postgres.js';
import { ormHmr } from '../dist/vite/index.js';
import { settled } from '../dist/runtime/index.js';
import { benchProject, benchServer } from './dev-server.js';

const reloads = Number(process.argv[2] ?? 50);
const POOL = 5;
const WORKERS = 3;

/** Per client: the module, the table it inserts into, and the server's own count of the others' connections. */
const kinds = {
  pg: {
    db: (url, version) => `import pg from 'pg';
export const version = ${version};
export const pool = new pg.Pool({ connectionString: ${JSON.stringify(url)}, max: ${POOL} });
export async function insert(n) {
  await pool.query('INSERT INTO bench_items (n) VALUES ($1)', [n]);
}
`,
    async watch(url) {
      const watcher = new pg.Client({ connectionString: url, application_name: 'bench-watcher' });
      await watcher.connect();
      return {
        query: (sql) => watcher.query(sql),
        count: async () =>
          (await watcher.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).rows[0].n,
        end: () => watcher.end(),
      };
    },
    table: 'CREATE TABLE bench_items (id serial PRIMARY KEY, n int NOT NULL)',
  },
  mysql2: {
    db: (url, version) => `import mysql from 'mysql2/promise';
export const version = ${version};
export const pool = mysql.createPool({ uri: ${JSON.stringify(url)}, connectionLimit: ${POOL} });
export async function insert(n) {
  await pool.execute('INSERT INTO bench_items (n) VALUES (?)', [n]);
}
`,
    async watch(url) {
      const watcher = await mysql.createConnection(url);
      return {
        query: (sql) => watcher.query(sql),
        count: async () => Number((await watcher.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()'))[0][0].n),
        end: () => watcher.end(),
      };
    },
    table: 'CREATE TABLE bench_items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)',
  },
};
// postgres.js and Prisma on the same PostgreSQL, counted the same way.
kinds['postgres.js'] = {
  ...kinds.pg,
  db: (url, version) => `import postgres from 'postgres';
export const version = ${version};
export const sql = postgres(${JSON.stringify(url)}, { max: ${POOL} });
export async function insert(n) {
  await sql\`INSERT INTO bench_items (n) VALUES (\${n})\`;
}
`,
};
kinds.prisma = {
  ...kinds.pg,
  db: (url, version, client) => `import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from ${JSON.stringify(client)};
export const version = ${version};
export const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: ${JSON.stringify(url)}, max: ${POOL} }) });
export async function insert(n) {
  await prisma.benchItem.create({ data: { n } });
}
`,
};

/**
 * The Prisma client the prisma module imports, generated into `dir`. \`prisma generate\` would
 * first download a schema engine; a stub in its place makes it use its WebAssembly one.
 */
function generatePrisma(dir) {
  mkdirSync(dir, { recursive: true });
  const schema = join(dir, 'schema.prisma');
  writeFileSync(
    schema,
    'generator client {\n  provider = "prisma-client"\n  output = "./client"\n}\ndatasource db {\n  provider = "postgresql"\n}\nmodel BenchItem {\n  id Int @id @default(autoincrement())\n  n  Int\n  @@map("bench_items")\n}\n',
  );
  const stub = join(dir, 'no-schema-engine.sh');
  writeFileSync(stub, '#!/bin/sh\nexit 1\n');
  chmodSync(stub, 0o755);
  const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  execFileSync(process.execPath, [cli, 'generate', '--schema', schema], {
    cwd: dir,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'ignore',
  });
  return join(dir, 'client', 'client.ts');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(url, strategy, kind, prismaClient) {
  const { watch } = kinds[kind];
  const root = benchProject(`sql-${kind.replace('.', '')}-${strategy}`);
  const file = join(root, 'db.ts');
  const client = prismaClient && './' + relative(root, prismaClient);
  const db = (u, version) => kinds[kind].db(u, version, client);
  writeFileSync(file, db(url, 1));
  const server = await benchServer(root, strategy === 'orm-hmr' ? [ormHmr({ memoryLine: false })] : []);
  const watcher = await watch(url);
  const count = watcher.count;
  let loading = true;
  let inserts = 0;
  let failures = 0;
  let n = 0;
  const worker = async () => {
    while (loading) {
      try {
        await (await server.ssrLoadModule(file)).insert(++n);
        inserts++;
      } catch {
        failures++;
        await sleep(10);
      }
    }
  };
  const load = Array.from({ length: WORKERS }, worker);
  while (inserts < 30) await sleep(10);
  const before = await count();
  let max = before;
  const started = performance.now();
  const insertsBefore = inserts;
  for (let version = 2; version <= reloads + 1; version++) {
    writeFileSync(file, db(url, version));
    server.moduleGraph.onFileChange(file); // what Vite's watcher does on a save
    while ((await server.ssrLoadModule(file)).version !== version) await sleep(5);
    await sleep(100); // a person saves no faster; the load keeps running
    max = Math.max(max, await count());
  }
  const after50 = await count();
  const ms = performance.now() - started;
  const insertsDuring = inserts - insertsBefore;
  loading = false;
  await Promise.all(load);
  if (strategy === 'orm-hmr') await settled();
  await sleep(1_000);
  const afterLoad = await count();
  await watcher.end();
  await server.close();
  rmSync(root, { recursive: true, force: true });
  return { before, max, after: after50, oneSecondLater: afterLoad, inserts, failures, reloadsMs: Math.round(ms), insertsPerSecond: Math.round((insertsDuring / ms) * 1000) };
}

// Each strategy in a fresh process (the plain run's pools stay open until that process exits).
if (process.argv[3] === '--child') {
  const [, , , , strategy, kind, url, prismaClient] = process.argv;
  console.log(JSON.stringify(await measure(url, strategy, kind, prismaClient)));
  process.exit(0);
}
const base = join(import.meta.dirname, '.tmp');
mkdirSync(base, { recursive: true });

/** Both strategies of each of `kinds` (sharing one table) on a fresh server. */
async function compare(names, server, prismaClient) {
  try {
    const setup = await kinds[names[0]].watch(server.url);
    await setup.query(kinds[names[0]].table);
    await setup.end();
    const child = (strategy, kind) => {
      process.stderr.write(`sql connections: ${kind}, ${strategy}, ${reloads} reloads...\n`);
      const args = [import.meta.filename, String(reloads), '--child', strategy, kind, server.url, ...(prismaClient ? [prismaClient] : [])];
      return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').at(-1));
    };
    return Object.fromEntries(names.map((kind) => [kind, { plain: child('plain', kind), 'orm-hmr': child('orm-hmr', kind) }]));
  } finally {
    await server.stop();
  }
}

const prismaClient = generatePrisma(join(base, 'prisma'));
try {
  const { pg: pgResults, ...clients } = await compare(['pg', 'postgres.js', 'prisma'], await startPostgres({ base, database: 'orm_hmr_bench', maxConnections: 400 }), prismaClient);
  const { mysql2 } = await compare(['mysql2'], await startMariadb({ base, database: 'orm_hmr_bench', maxConnections: 400 }));
  console.log(JSON.stringify({ reloads, pool: POOL, workers: WORKERS, ...pgResults, mysql2, clients }));
} finally {
  rmSync(join(base, 'prisma'), { recursive: true, force: true });
}
