import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { ownDatabase as ownDatabaseWithDrop } from './own-database.ts';
import { onReport, settled, unload, type ReloadRecord } from '../../dist/runtime/index.js';
import { Project, startVite, until, type Dev } from './project.ts';

// The SQL version of test/connections.test.ts's harness: an app whose one route inserts through
// whatever db.ts exports now, a bounded loopback insert load, and PostgreSQL's own count of
// client connections to the test database (pg_stat_activity), sampled while db.ts is edited.

export const WORKERS = 3;

/** The app: one route, which inserts through whatever db.ts exports now. */
export const app = `import type { IncomingMessage, ServerResponse } from 'node:http';
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

export interface Running {
  project: Project;
  dev: Dev;
  server: Server;
  base: string;
}

export async function startApp(name: string, db: string): Promise<Running> {
  const project = new Project(`sql-${name}`, { 'db.ts': db, 'app.ts': app });
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
  return { project, dev, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function stopApp(running: Running): Promise<void> {
  await new Promise((resolve) => running.server.close(resolve));
  await running.dev.close();
  running.project.remove();
}

export async function post(base: string, doc: object): Promise<{ ok: boolean; text: string }> {
  const response = await fetch(`${base}/items`, { method: 'POST', body: JSON.stringify(doc) });
  return { ok: response.ok, text: await response.text() };
}

/** Waits until the app serves `version` (the next load re-evaluates the edited file). */
export async function serving(dev: Dev, version: number): Promise<void> {
  await until(async () => (await dev.load('app.ts')).version === version, 15_000, `version ${version}`);
}

/** A connection of the test's own, to watch the others: PostgreSQL's count of client connections to `url`'s database but this one. */
export class Watcher {
  readonly client: pg.Client;
  constructor(url: string) {
    this.client = new pg.Client({ connectionString: url, application_name: 'orm-hmr-watcher' });
  }
  async connect(): Promise<this> {
    await this.client.connect();
    return this;
  }
  async connections(): Promise<number> {
    const { rows } = await this.client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows[0].n;
  }
  end(): Promise<void> {
    return this.client.end();
  }
}

export interface Measured {
  before: number;
  max: number;
  after: number;
  samples: number;
  acknowledged: number[];
  failures: string[];
  reloadMs: number[];
}

/**
 * `reloads` edits of db.ts while `WORKERS` loops POST inserts (bounded in count and time, loopback
 * only), sampling `watcher`'s count (pg_stat_activity, or open files) every 25 ms from the first
 * edit until the load stops.
 */
export async function reloadUnderLoad({ dev, base }: Running, db: (version: number) => string, run: string, watcher: { connections(): Promise<number> }, reloads: number, settleTo: number): Promise<Measured> {
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
  const load = Array.from({ length: WORKERS }, worker);
  await until(() => acknowledged.length >= 30, 15_000, 'warm-up inserts');
  const before = await watcher.connections();
  let max = before;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      max = Math.max(max, await watcher.connections());
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  const reloadMs: number[] = [];
  try {
    for (let version = 2; version <= reloads + 1; version++) {
      const started = performance.now();
      await dev.edit('db.ts', db(version));
      await serving(dev, version);
      reloadMs.push(performance.now() - started);
    }
  } finally {
    loading = false;
    await Promise.all(load);
    sampling = false;
    await sampler;
  }
  await settled();
  // The last previous generation closes once its last query is done and 100 ms passed.
  let after = await watcher.connections();
  await until(async () => (after = await watcher.connections()) <= settleTo, 10_000).catch(() => {});
  return { before, max, after, samples, acknowledged, failures, reloadMs };
}

/** A database of its own on the test PostgreSQL (see own-database.ts); its URL. */
export async function ownDatabase(url: string, name: string): Promise<string> {
  return (await ownDatabaseWithDrop(url, name)).url;
}

/** Every acknowledged insert is in `table`, once. */
export async function foundIn(url: string, table: string, run: string): Promise<number[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT n FROM ${table} WHERE run = $1`, [run]);
    return rows.map((row) => row.n);
  } finally {
    await client.end();
  }
}

export function summary(name: string, m: Measured): string {
  const sorted = [...m.reloadMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${name}: PostgreSQL connections before ${m.before}, max ${m.max} (${m.samples} samples), after ${m.after}; ${m.acknowledged.length} inserts acknowledged, ${m.failures.length} failed; reload median ${median.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
}

/** This process's open file descriptors on `file` (Linux: /proc/self/fd), the SQLite version of a connection count. */
export function filesOpen(file: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // Closed while we listed the folder.
    }
  }
  return count;
}

/**
 * What each PostgreSQL load-test file sets up: a database of its own (other files' connections do
 * not count) with `table`, a watcher on it, the reports, and one app per test, whose db.ts is
 * unloaded after it (as if deleted: its last generation's client is released too).
 */
export function postgresSuite(database: string, table: string) {
  let unsubscribe: (() => void) | undefined;
  const suite = {
    url: '',
    watcher: undefined as unknown as Watcher,
    reports: [] as ReloadRecord[],
    allLogs: [] as string[],
    running: undefined as Running | undefined,
    async start(name: string, db: string): Promise<Running> {
      return (suite.running = await startApp(name, db));
    },
    released(from: number): ReloadRecord['released'] {
      return suite.reports.slice(from).flatMap((record) => record.released);
    },
    async expectAllFound(run: string, acknowledged: number[]): Promise<void> {
      const found = await foundIn(suite.url, table, run);
      expect(found.length).toBe(acknowledged.length);
      const ns = new Set(found);
      expect(acknowledged.filter((n) => !ns.has(n))).toEqual([]);
    },
  };
  beforeAll(async () => {
    if (!inject('postgresUrl')) throw new Error(inject('postgresMissing'));
    suite.url = await ownDatabase(inject('postgresUrl'), database);
    suite.watcher = await new Watcher(suite.url).connect();
    await suite.watcher.client.query(`CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, run text NOT NULL, n int NOT NULL)`);
    unsubscribe = onReport((record) => suite.reports.push(record));
  });
  afterAll(async () => {
    unsubscribe?.();
    await suite.watcher?.end();
  });
  afterEach(async () => {
    const { running } = suite;
    if (!running) return;
    unload(running.project.path('db.ts'));
    suite.allLogs.push(...running.dev.logs);
    await stopApp(running);
    suite.running = undefined;
  });
  return suite;
}
