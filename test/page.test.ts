import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Logger, ViteDevServer } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReloadRecord } from '../src/ledger/report.ts';
import { createPage, type LedgerPage } from '../dist/vite/page.js';
import { postModel, userModel } from './helpers/fixtures.ts';
import { ansi, freePort, Project, saveUntil, startVite, until, type ViteName } from './helpers/project.ts';

// Without the background-networking flags Chromium keeps calling home, and the network here is closed.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  profile = mkdtempSync(join(tmpdir(), 'orm-hmr-chromium-'));
  // The one test/setup/chromium.ts found (CHROMIUM_PATH, the system's, or the packaged one); playwright-core brings none.
  const { executablePath, env } = inject('chromium');
  browser = await chromium.launchPersistentContext(profile, { executablePath, env: { ...process.env, ...env }, headless: true, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A browser tab that records every request it makes and every error it logs (CSP violations are console errors). */
async function openTab(url: string) {
  const tab = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  let navigations = 0;
  tab.on('request', (request) => requests.push(request.url()));
  tab.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  tab.on('pageerror', (error) => errors.push(error.message));
  tab.on('framenavigated', (frame) => frame === tab.mainFrame() && navigations++);
  await tab.goto(url);
  await tab.locator('#status.live').waitFor();
  return { tab, requests, errors, navigations: () => navigations };
}

/** A Vite dev server that really listens (on a free port), its log captured without colours. */
async function listenVite(project: Project, vite: ViteName) {
  const { createServer, createLogger } = (await import(vite)) as typeof import('vite');
  const { ormHmr } = await import('../dist/vite/index.js');
  const logs: string[] = [];
  const base = createLogger('info', { allowClearScreen: false });
  const capture = (message: string) => void logs.push(message.replace(ansi, ''));
  const customLogger: Logger = { ...base, info: capture, warn: capture, warnOnce: capture, error: capture };
  const server: ViteDevServer = await createServer({
    root: project.root,
    configFile: false,
    customLogger,
    // A fixed port, so that a restart listens where the page reconnects.
    server: { host: '127.0.0.1', port: await freePort(), strictPort: true, ws: false, watch: { usePolling: false } } as object,
    appType: 'custom',
    plugins: [ormHmr({ settleMs: 30 })],
  });
  await new Promise<void>((resolve) => {
    server.watcher.once('ready', resolve);
    setTimeout(resolve, 2_000);
  });
  await server.listen();
  // What Vite's CLI does after listening; twice, as the `u` shortcut would.
  server.printUrls();
  server.printUrls();
  const origin = new URL(server.resolvedUrls!.local[0]!).origin;
  return { server, logs, origin };
}

let counter = 0;


for (const vite of ['vite', 'vite7', 'vite6'] as const) {
  describe(`the ledger page on ${vite}`, () => {
    let project: Project | undefined;
    let server: ViteDevServer | undefined;
    afterEach(async () => {
      await server?.close();
      project?.remove();
    });

    it('follows reloads live: the chart gains points, the model shows its generations, nothing external loads', async () => {
      const p = `Pg${++counter}${vite.length}`;
      project = new Project(`page-${vite}`, { 'models/user.ts': userModel(p, 1), 'models/post.ts': postModel(p) });
      const dev = await listenVite(project, vite);
      server = dev.server;
      const { origin, logs } = dev;
      const load = () => server!.ssrLoadModule(project!.path('models/user.ts'));
      await load();
      await server.ssrLoadModule(project.path('models/post.ts'));

      expect(logs.filter((line) => line.includes('/__orm-hmr'))).toEqual([`  ➜  orm-hmr: ${origin}/__orm-hmr`]);

      const { tab, requests, errors, navigations } = await openTab(`${origin}/__orm-hmr`);
      await expect(tab.locator('#chart .point').count()).resolves.toBe(0);
      // A marker that a page reload would lose.
      await tab.evaluate(() => ((globalThis as { marker?: number }).marker = 1));

      for (let version = 2; version <= 4; version++) {
        await saveUntil(project, 'models/user.ts', userModel(p, version), async () => Object.keys((await load()).User.schema.paths).includes(`f${version}`));
        // Each save is its own batch (the next one comes only after this one was measured).
        await until(async () => (await tab.locator('#chart .point').count()) >= version - 1, 10_000, `point ${version - 1}`);
      }

      const records = (await (await fetch(`${origin}/__orm-hmr/records.json`)).json()) as ReloadRecord[];
      expect(records.length).toBeGreaterThanOrEqual(3);
      expect(records.map((r) => r.reload)).toEqual(records.map((_, i) => i + 1));
      expect(records.every((r) => r.files.includes('models/user.ts'))).toBe(true);
      expect(records.at(-1)!.alive[`${p}User`]).toBe(1);
      expect(records.at(-1)!.purged).toContainEqual({ adapter: 'mongoose', name: `${p}User` });

      // The page has every record, as points with the reload numbers under them.
      await until(async () => (await tab.locator('#chart .point').count()) === records.length, 5_000, 'every record on the chart');
      const reloads = await tab.locator('#chart .point').evaluateAll((points) => points.map((point) => Number(point.getAttribute('data-reload'))));
      expect(reloads).toEqual(records.map((r) => r.reload));
      await expect(tab.locator('#chart text.reload').allTextContents()).resolves.toContain(`#${records.length}`);
      await expect(tab.locator('#reloads tbody tr').count()).resolves.toBe(records.length);

      const row = tab.locator(`#models tr[data-name="${p}User"]`);
      await expect(row.locator('.count').textContent()).resolves.toBe('1');
      await expect(row.getAttribute('class')).resolves.toBeNull();
      await expect(row.locator('td').nth(2).textContent()).resolves.toBe(`#${records.at(-1)!.reload}`);
      await expect(tab.locator('#summary').textContent()).resolves.toContain(`${records.length} reloads`);

      // Live updates, not page reloads.
      await expect(tab.evaluate(() => (globalThis as { marker?: number }).marker)).resolves.toBe(1);
      expect(navigations()).toBe(1);
      // Only our own endpoints, and no CSP violation (which would mean something tried to load).
      expect(requests.filter((url) => !url.startsWith('data:')).sort()).toEqual([`${origin}/__orm-hmr`, `${origin}/__orm-hmr/events`]);
      expect(errors).toEqual([]);

      // An in-place restart (what a config change does): the old server's stream ends, the page
      // reconnects to the new server on the same port and shows its history, which starts afresh.
      await server.restart();
      await until(async () => (await tab.locator('#chart .point').count()) === 0, 10_000, "the new server's history");
      await until(async () => (await tab.locator('#status').textContent()) === 'live', 10_000, 'the page to reconnect');
      await saveUntil(project, 'models/user.ts', userModel(p, 5), async () => Object.keys((await load()).User.schema.paths).includes('f5'));
      await until(async () => (await tab.locator('#chart .point').getAttribute('data-reload')) === '1', 10_000, 'reload #1 of the new server');
      await expect(tab.evaluate(() => (globalThis as { marker?: number }).marker)).resolves.toBe(1);
      await tab.close();
    });
  });
}

describe('the page in middleware mode', () => {
  it('ends its event streams when the dev server closes, so the app server can close too', async () => {
    const project = new Project('page-middleware', { 'models/post.ts': postModel(`Pm${++counter}`) });
    const dev = await startVite(project);
    const http = createHttpServer(dev.server.middlewares);
    try {
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const { port } = http.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/__orm-hmr/events`);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain('event: history');
      await dev.close();
      // The stream ends: no socket is left to keep `http` from closing.
      await expect(until(async () => (await reader.read()).done, 5_000, 'the stream to end')).resolves.toBe(true);
      await new Promise((resolve) => http.close(resolve));
    } finally {
      http.closeAllConnections();
      project.remove();
    }
  });
});

describe('the page on its own', () => {
  let http: Server | undefined;
  let page: LedgerPage | undefined;
  afterEach(async () => {
    page?.close();
    if (!http) return;
    http.closeAllConnections();
    await new Promise((resolve) => http!.close(resolve));
  });

  /** The page of a fake runtime whose records the test emits. */
  async function serve() {
    const listeners = new Set<(record: ReloadRecord) => void>();
    const source = {
      onReport(listener: (record: ReloadRecord) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    page = createPage(source, { limit: 3 });
    http = createHttpServer((req, res) => page!.handle(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as { port: number };
    return { origin: `http://127.0.0.1:${port}`, emit: (record: ReloadRecord) => listeners.forEach((listener) => listener(record)), listeners };
  }

  const hostile = '<img src="/x" onerror="window.pwned=1">';
  function record(reload: number, extra: Partial<ReloadRecord> = {}): ReloadRecord {
    return {
      reload, time: new Date().toISOString(), files: ['models/user.ts'], purged: [{ adapter: 'mongoose', name: 'User' }], purgeMs: 0.5,
      failed: [], heapUsed: (20 + reload) * 1024 * 1024, heapTotal: 0, rss: 0, external: 0, heapDelta: 1024 * 1024, heapDeltaFromFirst: 0,
      gc: true, gcMs: 20, gcRounds: 1, alive: { User: 1 }, generations: { 'models/user.ts': 1 }, released: [], sideEffects: [],
      verdict: 'ok', warnings: [], ...extra,
    };
  }

  it('shows side effects, warnings, released connections and the retainer path, as text, and keeps the last `limit` records', async () => {
    const { origin, emit } = await serve();
    const { tab, requests, errors } = await openTab(`${origin}/__orm-hmr/`);
    emit(record(1));
    emit(record(2));
    emit(record(3, {
      files: [`models/${hostile}.ts`],
      alive: { User: 3, [hostile]: 1 },
      generations: { 'models/user.ts': 3 },
      released: [{ adapter: 'mongoose', name: 'mongodb://ada:secret@db.local/app', action: 'closed' }],
      sideEffects: [{ kind: 'setInterval', file: 'models/user.ts', count: 2 }],
      verdict: 'leak',
      warnings: [{ kind: 'generations', subject: 'User', file: 'models/user.ts', perReload: 1, message: `User piles up ${hostile}` }],
      retainerPath: ['(GC roots)', 'Timeout', '_onTimeout', 'User'],
    }));
    // Not a report field: never served.
    emit(record(4, { uri: 'mongodb://ada:secret@db.local/app' } as Partial<ReloadRecord>));
    await until(async () => (await tab.locator('#chart .point').count()) === 3, 5_000, 'three points');

    // The latest record wins for current state; history tables keep record 3's events.
    await expect(tab.locator('#reloads tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-reload')))).resolves.toEqual(['4', '3', '2']);
    await expect(tab.locator('#warnings li').textContent()).resolves.toBe(`#3 generations User: User piles up ${hostile}`);
    await expect(tab.locator('#released td').allTextContents()).resolves.toEqual(['#3', 'mongoose', 'mongodb://***@db.local/app', 'closed']);
    await expect(tab.locator('#retainer li').allTextContents()).resolves.toEqual(['(GC roots)', 'Timeout', '_onTimeout', 'User']);
    await expect(tab.locator('#verdict').textContent()).resolves.toBe('ok');

    emit(record(5, { alive: { User: 2 }, generations: { 'models/user.ts': 2 }, sideEffects: [{ kind: 'listener', file: 'models/user.ts', count: 3, target: "process 'exit'" }], verdict: 'leak' }));
    await until(async () => (await tab.locator('#verdict').textContent()) === 'leak', 5_000, 'the leak verdict');
    await expect(tab.locator('#models tr[data-name="User"]').getAttribute('class')).resolves.toBe('many');
    await expect(tab.locator('#models tr[data-name="User"] .count').textContent()).resolves.toBe('2');
    await expect(tab.locator('#files tr.many .name').textContent()).resolves.toBe('models/user.ts');
    await expect(tab.locator('#side-effects td').allTextContents()).resolves.toEqual(['listener', 'models/user.ts', "process 'exit'", '3']);
    await expect(tab.locator('#chart .point.leak').evaluateAll((points) => points.map((point) => point.getAttribute('data-reload')))).resolves.toEqual(['3', '5']);

    // The hostile name was text: no <img>, no handler ran, no request for /x.
    await expect(tab.locator('img').count()).resolves.toBe(0);
    await expect(tab.evaluate(() => (globalThis as { pwned?: number }).pwned)).resolves.toBeUndefined();
    expect(requests.filter((url) => !url.startsWith('data:')).sort()).toEqual([`${origin}/__orm-hmr/`, `${origin}/__orm-hmr/events`]);
    expect(errors).toEqual([]);

    const served = (await (await fetch(`${origin}/__orm-hmr/records.json`)).json()) as ReloadRecord[];
    expect(served.map((r) => r.reload)).toEqual([3, 4, 5]);
    expect(JSON.stringify(served)).not.toContain('secret');
    const head = await fetch(`${origin}/__orm-hmr/events`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), page!.clients]).toEqual([200, 'text/event-stream; charset=utf-8', 1]);
    await tab.close();
  });

  it('ends event streams when the client goes away and when the page closes', async () => {
    const { origin, listeners } = await serve();
    const first = await openTab(`${origin}/__orm-hmr`);
    const second = await openTab(`${origin}/__orm-hmr`);
    expect(page!.clients).toBe(2);
    await first.tab.close();
    await until(() => page!.clients === 1, 5_000, 'the closed tab to be dropped');

    page!.close();
    expect(page!.clients).toBe(0);
    expect(listeners.size).toBe(0);
    // The browser sees the stream end and reconnects to a server that says no more (204).
    await until(async () => (await second.tab.locator('#status').textContent()) !== 'live', 5_000, 'the stream to end');
    await second.tab.close();
    await new Promise((resolve) => http!.close(resolve));
    http = undefined;
  });
});
