import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { parseAst, type Logger as ViteLogger, type Plugin, type ResolvedConfig, type ViteDevServer } from 'vite';
import pc from 'picocolors';
import { getRuntime } from '../runtime/hook.ts';
import { consoleLogger, type Logger } from '../util/log.ts';
import { resolveOptions, type OrmHmrOptions } from '../options.ts';
import { applySettings } from '../runtime/config.ts';
import { findImports, mentionsPattern } from '../transform/detect.ts';
import { createSelector, toPortable } from '../transform/filter.ts';
import { packageDir, runtimePath } from '../transform/paths.ts';
import { transformModule } from '../transform/index.ts';
import type { Node } from '../transform/top-level-await.ts';
import { isHostAllowed } from './host-check.ts';
import { createPage, PAGE_PATH, type LedgerPage } from './page.ts';
import { threadRuntimePath } from './thread-runtime-path.ts';
import { workerReports } from './worker-reports.ts';

export type { OrmHmrOptions } from '../options.ts';


/**
 * Hot reload for ORM models in Vite's dev server. Wraps server-side modules that import a
 * supported ORM so that each re-evaluation first removes what the file registered last time.
 * Only while serving, only in server environments: builds and client code get nothing.
 */
export function ormHmr(options: OrmHmrOptions = {}): Plugin[] {
  const resolved = resolveOptions(options);
  const runtime = getRuntime();
  runtime.host.choose(resolved.adapters ?? runtime.defaults.adapters);
  let selected: (file: string) => boolean | undefined = () => undefined;
  // Loggers of the dev servers this plugin object serves, by their resolved config. On a restart
  // with an inline config Vite reuses this very plugin object: the old server closes after the
  // new one is configured, so each server must only undo its own settings.
  const loggers = new Map<object, Logger>();
  // The ledger page of each of those servers, closed with it (same reason).
  const pages = new Map<object, LedgerPage>();

  const transform: Plugin = {
    name: 'orm-hmr:transform',
    apply: 'serve',
    // After TypeScript and framework plugins: we see the final JavaScript.
    enforce: 'post',
    applyToEnvironment: (environment) => environment.config.consumer === 'server',
    configResolved(config) {
      selected = createSelector(toPortable(resolved.include), toPortable(resolved.exclude), config.root, packageDir);
    },
    transform: {
      // Vite 6.3+ skips the call for modules that cannot match; older versions call the handler, which checks again.
      filter: resolved.include === undefined ? { code: mentionsPattern(runtime.host.packages()) } : undefined,
      async handler(code, id, opts) {
        const environment = (this as { environment?: { name: string; config: { consumer?: string } } }).environment;
        const consumer = environment?.config.consumer;
        if (consumer ? consumer !== 'server' : !opts?.ssr) return null;
        const packages = runtime.host.packages();
        // Where its ORM imports resolve: the runtime hands their namespaces back by file, so an
        // evaluation costs the runner no import of ours (the first one per file imports it).
        const resolved: Record<string, string> = {};
        for (const specifier of findImports(code, packages).staticImports) {
          if (!packages.includes(specifier)) continue;
          const target = await this.resolve(specifier, id).catch(() => null);
          if (target && !target.external && isAbsolute(target.id)) resolved[specifier] = target.id;
        }
        return transformModule(code, id, {
          // Environments other than Vite's own 'ssr' may run in a worker thread (Nitro's 'nitro').
          runtime: environment && environment.name !== 'ssr' ? threadRuntimePath : runtimePath,
          // A runner in this process (Vite's own 'ssr') finds the plugin's runtime there; one in a
          // worker (Nitro's, Vitest's) imports it once, then finds it too.
          runtimeFromGlobal: true,
          resolved,
          packages,
          selected,
          parse: (source) => parseAst(source) as unknown as Node,
        });
      },
    },
  };

  /** Each dev server this plugin serves: its settings, logger and ledger page. */
  async function configureServer(devServer: ViteDevServer): Promise<void> {
    // On a restart Vite configures the new server before closing the old one: report the old
    // server's last batch with its own settings first.
    await runtime.ledger.settled();
    const logger = viteLogger(devServer.config.logger);
    applySettings(runtime, resolved, devServer.config.root, logger);
    runtime.ledger.restart();
    runtime.host.forgetNamespaces();
    // A deleted file never evaluates again: drop what it registered now.
    devServer.watcher.on('unlink', (file) => runtime.unload(file));
    loggers.set(devServer.config, logger);
    // After the ledger restarted: the page's history starts with this server, as its reload numbers do.
    const page = createPage(withWorkerReports(runtime, devServer.config.root));
    pages.set(devServer.config, page);
    devServer.middlewares.use(guarded(devServer.config, page.handle));
    announcePage(devServer);
    addTraceShortcut(devServer, () => void runtime.ledger.trace());
  }

  const server: Plugin = {
    name: 'orm-hmr:server',
    apply: 'serve',
    // Before other plugins' config hooks: Nitro starts its dev worker thread in its own, and a
    // worker gets its settings from the environment it copies at start (ORM_HMR_*).
    config: {
      order: 'pre',
      handler(config) {
        applySettings(runtime, resolved, resolve(config.root ?? process.cwd()));
      },
    },
    // First, whatever the plugin order: a catch-all middleware of another plugin (Hono's dev
    // server, listed before us as its docs show) would otherwise answer our page's requests.
    configureServer: { order: 'pre', handler: configureServer },
    // Vite calls it when the dev server closes: report the last batch here, not into the next server's log.
    async closeBundle() {
      const config = (this as { environment?: { getTopLevelConfig?: () => object } }).environment?.getTopLevelConfig?.();
      // Ends the page's event streams, which would otherwise hold a middleware-mode server open.
      if (config) {
        pages.get(config)?.close();
        pages.delete(config);
      }
      const logger = config && loggers.get(config);
      if (!logger) return;
      loggers.delete(config);
      await runtime.ledger.settled();
      if (runtime.options.logger === logger) runtime.configure({ logger: consoleLogger() });
    },
  };

  return [transform, server];
}

export default ormHmr;

/** Our page's middleware behind Vite's host check (DNS rebinding): it may run before Vite's own. */
function guarded(config: ResolvedConfig, handle: LedgerPage['handle']): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    if (!req.url?.startsWith(PAGE_PATH)) return next();
    if (isHostAllowed(config, req.headers.host)) return handle(req, res, next);
    res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`Blocked request. This host (${JSON.stringify(req.headers.host ?? '')}) is not allowed.`);
  };
}

/** This thread's records and those of worker threads serving the same root (Nitro's dev worker). */
function withWorkerReports(runtime: ReturnType<typeof getRuntime>, root: string): Parameters<typeof createPage>[0] {
  const workers = workerReports(root);
  return {
    onReport(listener) {
      const stops = [runtime.ledger.onReport(listener), workers.onReport(listener)];
      return () => stops.forEach((stop) => stop());
    },
  };
}

/** Our lines in Vite's own logger, with its timestamp, each warning once. */
function viteLogger(logger: ViteLogger): Logger {
  const tag = pc.cyan('[orm-hmr]');
  return {
    info: (message) => logger.info(`${tag} ${message}`, { timestamp: true }),
    warn: (message) => logger.warnOnce(`${tag} ${pc.yellow(message)}`, { timestamp: true }),
    error: (message) => logger.error(`${tag} ${pc.red(message)}`, { timestamp: true }),
  };
}

/**
 * `t` + enter in `vite dev` traces who holds old generations. Vite's CLI binds its shortcuts
 * (r, u, o, c, q) after the server listens; ours joins them.
 */
function addTraceShortcut(devServer: ViteDevServer, trace: () => void): void {
  const bind = devServer.bindCLIShortcuts.bind(devServer);
  devServer.bindCLIShortcuts = (options = {}) =>
    bind({
      ...options,
      customShortcuts: [...(options.customShortcuts ?? []), { key: 't', description: 'trace who holds old generations (orm-hmr)', action: trace }],
    });
}

/**
 * The page's URL under Vite's own, once per server. Vite knows its URLs only after it listens and
 * prints them through `printUrls()` (the CLI calls it; middleware mode has none), so we print
 * right after it, as vite-plugin-inspect does.
 */
function announcePage(devServer: ViteDevServer): void {
  const printUrls = devServer.printUrls;
  let announced = false;
  devServer.printUrls = () => {
    printUrls.call(devServer);
    const url = devServer.resolvedUrls?.local[0] ?? devServer.resolvedUrls?.network[0];
    if (announced || !url) return;
    announced = true;
    devServer.config.logger.info(`  ${pc.green('➜')}  ${pc.bold('orm-hmr')}: ${pc.cyan(new URL(PAGE_PATH, url).href)}`);
  };
}
