/**
 * The app's process under `orm-hmr dev`: a Vite dev server in middleware mode (no HTTP of its own,
 * no client HMR) with `ormHmr()`, Vite's module runner evaluating the entry, and a reload on each
 * save of a file the app loaded: the file's modules and their importers up to the entry evaluate
 * again, in place. The listening server is kept (keep-server.ts). Started by cli.ts, which
 * restarts it when a file outside the module graph changes.
 */
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { join, relative, resolve } from 'node:path';
import pc from 'picocolors';
import type { ViteDevServer } from 'vite';
import type { ModuleRunner } from 'vite/module-runner';
import { configure, onReport, unload } from '../runtime/index.ts';
import { createPage, PAGE_PATH } from '../vite/page.ts';
import type { DevOptions, ToSupervisor } from './protocol.ts';
import { keepListeningServers } from './keep-server.ts';
import { invalidateWithImporters, rejectedModules } from './reload.ts';
import { wholeFiles } from './whole-files.ts';
import { describeError, devLogger, tag } from './log.ts';

const options = JSON.parse(process.env.ORM_HMR_DEV ?? 'null') as DevOptions | null;
if (!options) throw new Error('orm-hmr: this file is started by `orm-hmr dev`, not directly');
delete process.env.ORM_HMR_DEV;

const root = process.cwd();
const entry = resolve(root, options.entry);
const rel = (file: string) => relative(root, file).split('\\').join('/') || file;
const send = (message: ToSupervisor) => process.send?.(message);
// The app sees the argv it would see under `node <entry> <args>`.
process.argv = [process.argv[0]!, entry, ...options.args];

const vite = await loadVite();
const logger = devLogger(vite);
const say = (message: string) => logger.info(message, { timestamp: true });
const startedAt = performance.now();
let stage = 'starting Vite';
const slowStart = setTimeout(() => say(`${stage}... (first start: Vite transforms each module once, later saves reuse them)`), 1000);

// Before the app runs: its listen() calls go through the keeper from the start.
const kept = keepListeningServers();
const page = options.page === 'off' ? undefined : createPage({ onReport });
if (page && options.page === 'app') {
  kept.intercept = (req, res) => {
    if (!req.url?.startsWith(PAGE_PATH)) return false;
    page.handle(req, res, () => res.writeHead(404).end());
    return true;
  };
}

stage = 'creating the Vite dev server';
const { ormHmr } = await import('../vite/index.ts');
const server: ViteDevServer = await vite.createServer({
  root,
  configFile: options.config ?? false,
  appType: 'custom',
  clearScreen: false,
  customLogger: logger,
  // Vite's SSR pipeline only: no HTTP server, no websocket, no HMR messages (we reload ourselves).
  server: { middlewareMode: true, hmr: false, ws: false, watch: {} },
  // tsconfig `paths` (Vite 8; older versions ignore the option).
  resolve: { tsconfigPaths: true } as object,
  ssr: options.conditions.length > 0 ? { resolve: { conditions: [...vite.defaultServerConditions, ...options.conditions], externalConditions: options.conditions } } : undefined,
  plugins: [wholeFiles(), ormHmr(options.plugin)],
  // Nothing runs in a browser: no dependency pre-bundling, and a cache of our own so the project's
  // own `vite dev` cache is left alone.
  optimizeDeps: { noDiscovery: true, include: [] },
  cacheDir: join(root, 'node_modules', '.vite', 'orm-hmr-dev'),
});
const runner: ModuleRunner = vite.createServerModuleRunner(server.environments.ssr as never, { hmr: false });

// Files outside the module graph that the process depends on: a change restarts it.
const restartFiles = new Set([join(root, 'package.json'), join(root, 'tsconfig.json'), ...options.envFiles.map((file) => resolve(root, file))]);
server.watcher.add([...restartFiles]);

let broken: string[] | undefined;
let lastError: string | undefined;
stage = `evaluating ${rel(entry)}`;
const slowStage = setInterval(() => (stage = `evaluating ${rel(entry)} (${runner.evaluatedModules.idToModuleMap.size} modules so far)`), 200);
const first = await evaluate();
clearTimeout(slowStart);
clearInterval(slowStage);
const pageUrl = await servePage();
say(
  `${first ? 'running' : 'waiting for a fix to'} ${pc.bold(rel(entry))} (${Math.round(performance.now() - startedAt)} ms)` +
    (pageUrl ? `, ledger ${pc.cyan(pageUrl)}` : '') +
    ` · rs + enter restarts`,
);

const pending = new Set<string>();
let timer: ReturnType<typeof setTimeout> | undefined;
let running: Promise<void> | undefined;
const empty = new Set<string>();
const added = new Set<string>();

for (const event of ['change', 'add', 'unlink'] as const) {
  server.watcher.on(event, (file: string) => {
    file = resolve(file);
    if (restartFiles.has(file)) return send({ type: 'restart', reason: `${rel(file)} changed` });
    if (event === 'unlink') empty.delete(file);
    if (event === 'add') added.add(file);
    pending.add(file);
    // Editors write a file in several steps; folding events that close together gives one reload.
    clearTimeout(timer);
    timer = setTimeout(() => void flush(), 5);
  });
}

process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
// The supervisor is gone (killed): nobody would stop us.
process.on('disconnect', () => void shutdown());

/** Evaluates the entry (again); false (after printing the error once) if it threw. */
async function evaluate(changed: string[] = []): Promise<boolean> {
  kept.beginReload();
  try {
    await runner.import(entry);
    broken = undefined;
    lastError = undefined;
    return true;
  } catch (error) {
    broken = await rejectedModules(runner.evaluatedModules);
    const what = changed.length > 0 ? changed.map(rel).join(', ') : rel(entry);
    const keeping = kept.keys.length > 0 ? 'the previous app keeps serving' : 'nothing is serving';
    const message = `${what}: ${describeError(error)}`;
    // Once: the same error again (another save that does not fix it) is not printed again.
    if (message !== lastError) logger.error(`${pc.red(message)}\n${pc.dim(`${keeping}; the next save tries again`)}`, { timestamp: true });
    lastError = message;
    return false;
  } finally {
    kept.endReload();
  }
}

async function flush(): Promise<void> {
  if (running) return void (await running.then(() => flush()));
  // The app's files: loaded by the runner, or (a save that did not compile) known to Vite.
  const ssr = server.environments.ssr.moduleGraph;
  const ours = (file: string) => Boolean(runner.evaluatedModules.getModulesByFile(file)?.size || ssr.getModulesByFile(file)?.size);
  // While the app is broken, a new file may be the missing import it waits for.
  const files = [...pending].filter((file) => ours(file) || (broken && added.has(file))).filter(whole);
  pending.clear();
  added.clear();
  if (files.length === 0) return;
  running = reload(files);
  try {
    await running;
  } finally {
    running = undefined;
  }
}

/** A save that truncates then writes: wait for the write, never evaluate an empty file. */
function whole(file: string): boolean {
  if (existsSync(file) && statSync(file).size === 0) {
    if (!empty.has(file)) say(pc.dim(`${rel(file)} is empty: waiting for the rest of the save`));
    empty.add(file);
    return false;
  }
  empty.delete(file);
  return true;
}

async function reload(files: string[]): Promise<void> {
  const start = performance.now();
  // Vite drops its transform of a changed file on the watcher event; make sure it did before we fetch again.
  const ssr = server.environments.ssr.moduleGraph;
  for (const file of files) if ([...(ssr.getModulesByFile(file) ?? [])].some((mod) => mod.transformResult)) ssr.onFileChange(file);
  const invalidated = invalidateWithImporters(runner.evaluatedModules, files, broken ?? []);
  if (await evaluate(files)) {
    const others = invalidated.size - files.length;
    say(`${pc.green('reloaded')} ${files.map(rel).join(', ')}${others > 0 ? pc.dim(` (+${others} importing ${others === 1 ? 'module' : 'modules'})`) : ''} in ${Math.round(performance.now() - start)} ms`);
  }
}

/** The ledger page on a port of its own (127.0.0.1 only), unless it is off or on the app's port. */
async function servePage(): Promise<string | undefined> {
  if (!page) return undefined;
  if (options!.page === 'app') return kept.keys.length > 0 ? `http://localhost:${kept.keys[0]!.split('|')[1]}${PAGE_PATH}` : PAGE_PATH;
  const pageServer = http.createServer((req, res) => page.handle(req, res, () => res.writeHead(404).end()));
  const port = typeof options!.page === 'number' ? options!.page : 0;
  await new Promise<void>((done, fail) => pageServer.once('error', fail).listen({ port, host: '127.0.0.1' }, done));
  pageServer.unref();
  return `http://127.0.0.1:${(pageServer.address() as { port: number }).port}${PAGE_PATH}`;
}

let stopping = false;
/**
 * SIGINT, SIGTERM or the supervisor: stop accepting connections and let in-flight requests finish,
 * then unload every module (its onUnload callbacks run, adapters close the clients it opened once
 * they are idle), and exit within 2 s whatever the app left open.
 */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 1900).unref();
  // Unloading everything is not a reload: no memory line, no report record.
  configure({ memoryLine: false, gc: false, report: false });
  await kept.closeAll(1000);
  for (const node of [...runner.evaluatedModules.idToModuleMap.values()].reverse()) if (node.file) unload(node.file);
  page?.close();
  await Promise.allSettled([runner.close(), server.close()]);
  // Adapters close a client after 100 ms with nothing in flight.
  await new Promise((done) => setTimeout(done, 250));
  process.exit(0);
}

async function loadVite(): Promise<typeof import('vite')> {
  try {
    return await import('vite');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    send({ type: 'fatal' });
    console.error(
      `${tag} ${pc.red("orm-hmr dev runs your server through Vite's module runner, and Vite is not installed.")}\n` +
        `  npm install --save-dev vite\n` +
        pc.dim('  (Vite 6 or later; your app needs no Vite config.)'),
    );
    process.exit(1);
  }
}
