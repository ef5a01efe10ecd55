import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { onReport, settled, unload, type ReloadRecord } from '../dist/runtime/index.js';
import { Project, startVite, until, type Dev } from './helpers/project.ts';
import { socketsTo } from './helpers/sockets.ts';

// Module-scope connections (`new MongoClient(uri)`, `mongoose.createConnection(uri)`,
// `mongoose.connect(uri)`) reloaded 50 times each while a bounded loopback load inserts documents
// through the app's HTTP route, against the real database of the global setup.

const RELOADS = 50;
const WORKERS = 3;
/** One open client's sockets at most: its monitor, one per concurrent request, one for Mongoose's model init. */
const ONE_CLIENT = WORKERS + 2;

/** The app: one route, which inserts through whatever db.ts exports now. */
const app = `import type { IncomingMessage, ServerResponse } from 'node:http';
import { insert, version } from './db.ts';

export { version };

export async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    const id = await insert(JSON.parse(body));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: String(id), version }));
  } catch (error) {
    res.writeHead(500).end(String(error));
  }
}
`;

const clientDb = (uri: string, version: number) => `import { MongoClient } from 'mongodb';

export const version = ${version};
export const client = new MongoClient(${JSON.stringify(uri)});
const ready = client.connect();

export async function insert(doc: object) {
  await ready;
  return (await client.db().collection('conn_client_items').insertOne({ ...doc })).insertedId;
}
`;

const createConnectionDb = (uri: string, version: number) => `import mongoose from 'mongoose';

export const version = ${version};
export const connection = mongoose.createConnection(${JSON.stringify(uri)});
const Item = connection.model('ConnItem', new mongoose.Schema({ run: String, n: Number }), 'conn_connection_items');

export async function insert(doc: object) {
  return (await Item.create(doc))._id;
}
`;

const connectDb = (uri: string, version: number) => `import mongoose from 'mongoose';

export const version = ${version};
mongoose.connect(${JSON.stringify(uri)});
const Item = mongoose.model('ConnDefaultItem', new mongoose.Schema({ run: String, n: Number }), 'conn_default_items');

export async function insert(doc: object) {
  return (await Item.create(doc))._id;
}
`;

/** The idiom for dev servers: a client (and a connect() promise, as in Next.js's example) kept on globalThis. */
const cachedDb = (uri: string, version: number) => `import { MongoClient } from 'mongodb';

export const version = ${version};
const cache = globalThis as { _connTestClient?: MongoClient; _connTestPromise?: Promise<MongoClient> };
export const client = (cache._connTestClient ??= new MongoClient(${JSON.stringify(uri)}));
export const clientPromise = (cache._connTestPromise ??= new MongoClient(${JSON.stringify(uri)}).connect());

export async function insert(doc: object) {
  await clientPromise;
  return (await client.db().collection('conn_cached_items').insertOne({ ...doc })).insertedId;
}
`;

let uri: string;
let port: number;
let verify: MongoClient;
const reports: ReloadRecord[] = [];
const allLogs: string[] = [];
let unsubscribe: () => void;

beforeAll(async () => {
  uri = inject('mongoUri');
  port = Number(/:(\d+)\//.exec(uri)?.[1]);
  unsubscribe = onReport((record) => reports.push(record));
});
afterAll(async () => {
  unsubscribe?.();
  await mongoose.disconnect();
});

interface Running {
  project: Project;
  dev: Dev;
  server: Server;
  base: string;
}
let running: Running | undefined;

afterEach(async () => {
  if (!running) return;
  // As if db.ts were deleted: its last generation's connection is released too.
  unload(running.project.path('db.ts'));
  allLogs.push(...running.dev.logs);
  await new Promise((resolve) => running!.server.close(resolve));
  await running.dev.close();
  running.project.remove();
  running = undefined;
});

async function start(name: string, db: string): Promise<Running> {
  const project = new Project(`connections-${name}`, { 'db.ts': db, 'app.ts': app });
  const dev = await startVite(project);
  // The app's HTTP server: each request loads the app as it is now, like an SSR dev server.
  const server = createServer(async (req, res) => {
    try {
      const loaded = await dev.load<{ handle: (q: typeof req, s: typeof res) => Promise<void> }>('app.ts');
      await loaded.handle(req, res);
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running = { project, dev, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  return running;
}

async function post(base: string, doc: object): Promise<{ ok: boolean; text: string }> {
  const response = await fetch(`${base}/items`, { method: 'POST', body: JSON.stringify(doc) });
  return { ok: response.ok, text: await response.text() };
}

/** Waits until the app serves `version` (the next load re-evaluates the edited file). */
async function serving(dev: Dev, version: number): Promise<void> {
  await until(async () => (await dev.load('app.ts')).version === version, 15_000, `version ${version}`);
}

interface Measured {
  before: number;
  max: number;
  after: number;
  acknowledged: number[];
  failures: string[];
  reloadMs: number[];
}

/**
 * `RELOADS` edits of db.ts while `WORKERS` loops POST inserts (bounded in count and time, loopback
 * only), sampling our sockets to the database after each reload.
 */
async function reloadUnderLoad({ dev, base }: Running, db: (version: number) => string, run: string, reloads = RELOADS): Promise<Measured> {
  const acknowledged: number[] = [];
  const failures: string[] = [];
  let next = 0;
  let loading = true;
  const deadline = Date.now() + 90_000;
  const worker = async () => {
    while (loading && next < 20_000 && Date.now() < deadline) {
      const n = ++next;
      try {
        const { ok, text } = await post(base, { run, n });
        if (ok) acknowledged.push(n);
        else failures.push(text.slice(0, 300));
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  // Warm up: the pool grows to the load's concurrency before we take the baseline.
  const warm = Array.from({ length: WORKERS }, worker);
  await until(() => acknowledged.length >= 30, 15_000, 'warm-up inserts');
  const before = socketsTo(port)!;
  let max = before;
  const reloadMs: number[] = [];
  try {
    for (let version = 2; version <= reloads + 1; version++) {
      const started = performance.now();
      await dev.edit('db.ts', db(version));
      await serving(dev, version);
      reloadMs.push(performance.now() - started);
      max = Math.max(max, socketsTo(port)!);
    }
  } finally {
    loading = false;
    await Promise.all(warm);
  }
  await settled();
  // The last previous generation closes once its last operation is done and 100 ms passed.
  let after = socketsTo(port)!;
  await until(() => (after = socketsTo(port)!) <= Math.max(before, ONE_CLIENT), 10_000).catch(() => {});
  return { before, max, after, acknowledged, failures, reloadMs };
}

/** Every acknowledged insert is in the collection (of any of `dbs`), once. */
async function expectAllFound(collection: string, run: string, acknowledged: number[], dbs: (string | undefined)[] = [undefined]): Promise<void> {
  verify = new MongoClient(uri);
  try {
    const found = [];
    for (const db of dbs) found.push(...(await verify.db(db).collection(collection).find({ run }).project({ n: 1 }).toArray()));
    expect(found.length).toBe(acknowledged.length);
    const ns = new Set(found.map((doc) => doc.n));
    expect(acknowledged.filter((n) => !ns.has(n))).toEqual([]);
  } finally {
    await verify.close();
  }
}

function released(from: number): ReloadRecord['released'] {
  return reports.slice(from).flatMap((record) => record.released);
}

function summary(name: string, m: Measured): string {
  const sorted = [...m.reloadMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${name}: sockets before ${m.before}, max ${m.max}, after ${m.after}; ${m.acknowledged.length} inserts acknowledged and found, ${m.failures.length} failed; reload median ${median.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
}

const describeLinux = process.platform === 'linux' ? describe : describe.skip;

describeLinux('module-scope connections', () => {
  it('new MongoClient(uri): 50 reloads under load keep one client open and lose no insert', async () => {
    const run = `client-${Date.now()}`;
    const r = await start('client', clientDb(uri, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => clientDb(uri, version), run);
    console.log(summary('new MongoClient', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound('conn_client_items', run, m.acknowledged);
    // Flat: one client's sockets at the end. A previous client closes 100 to 150 ms after its last
    // operation and reloads here come every 120 ms or so: at most three clients at once.
    expect(m.after).toBeLessThanOrEqual(ONE_CLIENT);
    expect(m.max).toBeLessThanOrEqual(3 * ONE_CLIENT);
    expect(released(from)).toContainEqual({ adapter: 'mongodb', name: 'MongoClient', action: 'closed' });
    expect(r.dev.logs.some((line) => line.includes('closed mongodb:MongoClient'))).toBe(true);
  });

  it('mongoose.createConnection(uri): 50 reloads under load keep one connection open and lose no insert', async () => {
    const run = `connection-${Date.now()}`;
    const r = await start('create', createConnectionDb(uri, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => createConnectionDb(uri, version), run);
    console.log(summary('mongoose.createConnection', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound('conn_connection_items', run, m.acknowledged);
    expect(m.after).toBeLessThanOrEqual(ONE_CLIENT);
    expect(m.max).toBeLessThanOrEqual(3 * ONE_CLIENT);
    expect(released(from)).toContainEqual({ adapter: 'mongoose', name: 'connection', action: 'closed' });
    // Closed connections leave mongoose.connections; the default one stays open.
    expect(mongoose.connections.filter((c) => c !== mongoose.connection && c.readyState === 1)).toHaveLength(1);
    expect(mongoose.connection.readyState).toBe(0);
  });

  it('mongoose.connect(uri): 50 reloads under load reuse the default connection and lose no insert', async () => {
    const run = `default-${Date.now()}`;
    const r = await start('connect', connectDb(uri, 1));
    const from = reports.length;
    const m = await reloadUnderLoad(r, (version) => connectDb(uri, version), run);
    console.log(summary('mongoose.connect', m));

    expect(m.failures).toEqual([]);
    expect(m.acknowledged.length).toBeGreaterThan(RELOADS);
    await expectAllFound('conn_default_items', run, m.acknowledged);
    // One client throughout: the default connection's.
    expect(m.max).toBeLessThanOrEqual(ONE_CLIENT);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'mongoose', name: 'connection', action: 'reused' });
    expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
    expect(mongoose.connection.readyState).toBe(1);
    expect(r.dev.logs.some((line) => line.includes('reused mongoose:connection'))).toBe(true);
  });
});

describe('module-scope connections, edge cases', () => {
  it('mongodb 7.8: client.close() interrupts operations in flight (why release() waits)', async () => {
    const client = await new MongoClient(uri).connect();
    const checkedOut = new Promise((resolve) => client.once('connectionCheckedOut', resolve));
    const insert = client
      .db()
      .collection('conn_fact')
      .insertMany(Array.from({ length: 2000 }, (_, i) => ({ i })))
      .then(() => 'done', (error: Error) => error.message);
    await checkedOut;
    await client.close();
    expect(await insert).toMatch(/interrupted because client was closed/);
  });

  it('a throwing re-evaluation keeps the previous client open and working; the next good one closes it', async () => {
    const run = `rollback-${Date.now()}`;
    const r = await start('rollback', clientDb(uri, 1));
    const first = await r.dev.load<{ client: MongoClient; insert: (doc: object) => Promise<unknown> }>('db.ts');
    await first.insert({ run, n: 1 });
    const sockets = socketsTo(port)!;
    const from = reports.length;
    // The broken body opens a client of its own before it throws.
    await r.dev.edit('db.ts', clientDb(uri, 2).replace('export async function insert', "throw new Error('boom in db.ts');\nexport async function insert"));
    await until(async () => {
      try {
        await r.dev.load('app.ts');
        return false;
      } catch (error) {
        return /boom in db\.ts/.test(String(error));
      }
    });
    await first.insert({ run, n: 2 });
    expect((first.client as unknown as { s: { hasBeenClosed: boolean } }).s.hasBeenClosed).toBe(false);
    // The failed body's client is closed once its connect() is done; the previous one stays.
    await until(() => socketsTo(port)! <= sockets, 10_000, "the failed evaluation's client to close");
    await first.insert({ run, n: 3 });
    const failed = await settled();
    expect(failed?.failed).toEqual(['db.ts']);
    expect(failed?.released).toEqual([{ adapter: 'mongodb', name: 'MongoClient', action: 'closed' }]);

    await r.dev.edit('db.ts', clientDb(uri, 4));
    await serving(r.dev, 4);
    expect((await post(r.base, { run, n: 4 })).ok).toBe(true);
    await until(() => (first.client as unknown as { s: { hasBeenClosed: boolean } }).s.hasBeenClosed, 10_000, 'the previous client to close');
    await settled();
    expect(released(from)).toContainEqual({ adapter: 'mongodb', name: 'MongoClient', action: 'closed' });
    await expectAllFound('conn_client_items', run, [1, 2, 3, 4]);
  });

  it('a client kept on globalThis (and a connect() promise) is taken back, never closed', async () => {
    const run = `cached-${Date.now()}`;
    const cache = globalThis as { _connTestClient?: MongoClient; _connTestPromise?: Promise<MongoClient> };
    try {
      const r = await start('cached', cachedDb(uri, 1));
      const first = await r.dev.load<{ client: MongoClient; clientPromise: Promise<MongoClient> }>('db.ts');
      const fromPromise = await first.clientPromise;
      expect((await post(r.base, { run, n: 1 })).ok).toBe(true);
      const sockets = socketsTo(port)!;
      const from = reports.length;
      for (let version = 2; version <= 6; version++) {
        await r.dev.edit('db.ts', cachedDb(uri, version));
        await serving(r.dev, version);
        expect((await post(r.base, { run, n: version })).ok).toBe(true);
      }
      const last = await r.dev.load<{ client: MongoClient; clientPromise: Promise<MongoClient> }>('db.ts');
      expect(last.client).toBe(first.client);
      expect(await last.clientPromise).toBe(fromPromise);
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const client of [first.client, fromPromise]) expect((client as unknown as { s: { hasBeenClosed: boolean } }).s.hasBeenClosed).toBe(false);
      expect(socketsTo(port)).toBeLessThanOrEqual(sockets);
      await settled();
      const actions = released(from);
      expect(actions).toContainEqual({ adapter: 'mongodb', name: 'MongoClient', action: 'reused' });
      expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
      await expectAllFound('conn_cached_items', run, [1, 2, 3, 4, 5, 6]);
    } finally {
      await cache._connTestClient?.close();
      await (await cache._connTestPromise)?.close();
      delete cache._connTestClient;
      delete cache._connTestPromise;
    }
  });

  it('mongoose.connect() with an edited connection string reconnects once idle, says so, and loses no insert', async () => {
    const run = `switch-${Date.now()}`;
    const other = uri.replace(/\/([^/?]+)(\?|$)/, '/$1_b$2');
    const dbOf = (u: string) => /\/([^/?]+)(\?|$)/.exec(u)![1]!;
    const r = await start('switch', connectDb(uri, 1));
    const from = reports.length;
    // Each reload flips the string between two databases.
    const m = await reloadUnderLoad(r, (version) => connectDb(version % 2 ? uri : other, version), run, 6);
    console.log(summary('mongoose.connect, edited string', m));

    expect(m.failures).toEqual([]);
    await expectAllFound('conn_default_items', run, m.acknowledged, [dbOf(uri), dbOf(other)]);
    expect(m.max).toBeLessThanOrEqual(3 * ONE_CLIENT);
    // The last edit (version 7) went back to the first string.
    await until(() => mongoose.connection.readyState === 1 && mongoose.connection.name === dbOf(uri), 10_000, 'the reopened connection');
    expect(m.acknowledged.length).toBeGreaterThan(6);
    const lines = r.dev.logs.filter((line) => line.includes('connection string of the default connection changed'));
    expect(lines).toHaveLength(6);
    expect(lines[0]).toContain(`${dbOf(uri)} to 127.0.0.1:${port}/${dbOf(other)}`);
    expect(released(from)).toContainEqual({ adapter: 'mongoose', name: 'connection', action: 'closed' });
  });

  it('never prints or reports a connection string', async () => {
    const text = JSON.stringify(reports);
    expect(text).not.toMatch(/mongodb(\+srv)?:\/\//);
    expect(allLogs.length).toBeGreaterThan(0);
    expect(allLogs.filter((line) => /mongodb(\+srv)?:\/\//.test(line))).toEqual([]);
    const { safeTarget } = await import('../dist/adapters/safe-uri.js');
    expect(safeTarget('mongodb+srv://ada:s3cr%40t@cluster0.example.net/app?authSource=admin&tlsCertificateKeyFilePassword=x')).toBe('cluster0.example.net/app');
    expect(safeTarget('mongodb://ada:pa/ss@h1:1,h2:2/db')).toBe('h1:1,h2:2/db');
  });
});
