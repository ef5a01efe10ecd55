import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Compiler, RuleSetRule } from 'webpack';
import { getRuntime } from '../runtime/hook.ts';
import { consoleLogger, type Logger } from '../util/log.ts';
import { defaultExclude, resolveOptions, type OrmHmrOptions, type ResolvedOptions } from '../options.ts';
import { applySettings } from '../runtime/config.ts';
import { scriptRE } from '../transform/detect.ts';
import { toPortable } from '../transform/filter.ts';
import { packageDir, runtimePath } from '../transform/paths.ts';
import { writeManifestLast } from './hot-update.ts';
import type { LoaderOptions } from './loader.ts';

export type { OrmHmrOptions } from '../options.ts';

/** The loader shim webpack and Turbopack load with require(). */
export const loaderPath: string = join(dirname(fileURLToPath(import.meta.url)), 'loader-cjs.cjs');

export interface OrmHmrWebpackOptions extends OrmHmrOptions {
  /**
   * Where the memory line goes when the app runs in the compiler's process: webpack's
   * infrastructure logger (`compiler.getInfrastructureLogger('orm-hmr')`) or the console. An app
   * forked into its own process (NestJS's run-script plugin) always prints to its console.
   * @default 'infrastructure'
   */
  logger?: 'infrastructure' | 'console';
}

/**
 * webpack 5: wraps server-side modules that import a supported ORM, in development and watch
 * builds of server targets only. The runtime, inside the app, does the purging and measuring, so
 * this works whether the app runs in this process or in one it forks.
 */
export class OrmHmrPlugin {
  readonly options: OrmHmrWebpackOptions;

  constructor(options: OrmHmrWebpackOptions = {}) {
    resolveOptions(options); // validate now, naming the option
    this.options = options;
  }

  apply(compiler: Compiler): void {
    // Target and mode defaults are applied after plugins: decide once they are known.
    compiler.hooks.afterEnvironment.tap('OrmHmrPlugin', () => {
      if (!isNodeTarget(compiler)) return; // client bundles never get the runtime
      const mode = compiler.options.mode;
      // webpack does not set NODE_ENV; its mode is what says "production".
      if (mode === 'development') this.#enable(compiler);
      else if (mode !== 'production') compiler.hooks.watchRun.tap('OrmHmrPlugin', () => this.#enable(compiler));
    });
  }

  #enabled = new WeakSet<Compiler>();

  #enable(compiler: Compiler): void {
    if (this.#enabled.has(compiler)) return;
    this.#enabled.add(compiler);
    const resolved = resolveOptions(this.options);
    const root = compiler.context;
    const logger: Logger =
      this.options.logger === 'console' ? consoleLogger() : infrastructureLogger(compiler.getInfrastructureLogger('orm-hmr'));
    applySettings(getRuntime(), resolved, root, logger);
    getRuntime().ledger.restart();
    compiler.options.module.rules.push(loaderRule(loaderOptions(resolved, root), this.options.exclude === undefined));
    writeManifestLast(compiler);
    externalRuntime(compiler);
  }
}

/** What the loader needs, as JSON (Turbopack serializes loader options). */
export function loaderOptions(resolved: ResolvedOptions, root: string): LoaderOptions {
  return JSON.parse(
    JSON.stringify({
      runtime: runtimePath,
      packages: getRuntime().host.packages(),
      root,
      packageDir,
      include: toPortable(resolved.include),
      exclude: toPortable(resolved.exclude),
    }),
  ) as LoaderOptions;
}

export default OrmHmrPlugin;

/**
 * The rule the plugin adds; `enforce: 'post'` so we see JavaScript, after TypeScript and SWC
 * loaders. With the default `exclude`, node_modules is skipped by webpack itself (no loader call).
 */
export function loaderRule(options: LoaderOptions, skipNodeModules: boolean): RuleSetRule {
  return {
    test: scriptRE,
    ...(skipNodeModules ? { exclude: defaultExclude } : {}),
    enforce: 'post',
    use: [{ loader: loaderPath, ident: 'orm-hmr', options }],
  };
}

/**
 * The runtime is required by Node, once, instead of bundled: bundled, each server bundle has its
 * own copy of it (with webpack's source maps), and Next.js keeps one per route and per first
 * generation: 12 MB of heap measured in a three-route app. Node 20.19+ requires our ESM runtime.
 */
function externalRuntime(compiler: Compiler): void {
  if (compiler.options.output.module || !runtimePath.endsWith('.js')) return; // an ESM bundle, or this repo from source
  // Required here first: Node's module record keeps its first requirer as `parent`, which would
  // otherwise be the first server bundle, kept alive for good with its generation of every model.
  createRequire(import.meta.url)(runtimePath);
  new compiler.webpack.ExternalsPlugin('commonjs', ({ request, context }: { request?: string; context?: string }, callback: (error?: Error | null, result?: string) => void) => {
    if (request && context && resolve(context, request) === runtimePath) return callback(null, `commonjs ${runtimePath}`);
    callback();
  }).apply(compiler);
}

function isNodeTarget(compiler: Compiler): boolean {
  const platform = (compiler as { platform?: { node?: boolean | null } }).platform;
  if (platform && typeof platform.node === 'boolean') return platform.node;
  return compiler.options.externalsPresets?.node === true;
}

function infrastructureLogger(logger: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void }): Logger {
  return { info: (m) => logger.info(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) };
}
