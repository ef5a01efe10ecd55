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

let uri: string;
let port: number;
let verify: MongoClient;
const reports: ReloadRecord[] = [];
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
async function reloadUnderLoad({ dev, base }: Running, db: (version: number) => string, run: string): Promise<Measured> {
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
    for (let version = 2; version <= RELOADS + 1; version++) {
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
  await until(() => (after = socketsTo(port)!) <= before, 10_000, `sockets back to ${before} (now ${after})`).catch(() => {});
  return { before, max, after, acknowledged, failures, reloadMs };
}

/** Every acknowledged insert is in the collection, once. */
async function expectAllFound(collection: string, run: string, acknowledged: number[]): Promise<void> {
  verify = new MongoClient(uri);
  try {
    const found = await verify.db().collection(collection).find({ run }).project({ n: 1 }).toArray();
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
    // Flat: one client's sockets at the end, at most two clients' while one closes after a reload.
    expect(m.after).toBeLessThanOrEqual(m.before);
    expect(m.max).toBeLessThanOrEqual(2 * m.before + 1);
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
    expect(m.after).toBeLessThanOrEqual(m.before);
    expect(m.max).toBeLessThanOrEqual(2 * m.before + 1);
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
    expect(m.after).toBeLessThanOrEqual(m.before);
    expect(m.max).toBeLessThanOrEqual(m.before + 1);
    const actions = released(from);
    expect(actions).toContainEqual({ adapter: 'mongoose', name: 'connection', action: 'reused' });
    expect(actions.filter((a) => a.action === 'closed')).toEqual([]);
    expect(mongoose.connection.readyState).toBe(1);
    expect(r.dev.logs.some((line) => line.includes('reused mongoose:connection'))).toBe(true);
  });
});
