import { isAbsolute, resolve } from 'node:path';
import { builtinAdapterNames, isBuiltinAdapterName, type BuiltinAdapterName } from '../adapters/builtin.ts';
import type { Adapter } from '../adapters/types.ts';
import type { ResolvedOptions } from '../options.ts';
import type { Logger } from '../util/log.ts';

/** Runtime settings; the plugins fill them in from their options, `configure()` changes them. */
export interface RuntimeOptions {
  /** Project root: file names in logs and reports are relative to it. @default process.cwd() */
  root: string;
  /** JSONL report path (relative to `root`), or false. @default process.env.ORM_HMR_REPORT */
  report: string | false;
  /** Count generations after a full GC (V8's own, or ours once the server is idle). @default true */
  gc: boolean;
  /** Quiet time that ends a reload batch, ms. @default 100 */
  settleMs: number;
  /** Print the memory line after each reload batch. @default true */
  memoryLine: boolean;
  /** Stop the timers, listeners, servers and sockets a file's top level started, before it evaluates again. @default false */
  undoSideEffects: boolean;
  /** Reloads after which an old generation still alive (or side effects piling up) is reported as a leak. @default 3 */
  leakAfter: number;
  /** Find who holds old generations (a heap snapshot) when a leak is reported; `keep` keeps the snapshot file. @default false */
  trace: boolean | 'keep';
  logger: Logger;
}

/** What a process hands the app's process when it forks it: the settings, and built-in adapters by name. */
export type Settings = Omit<RuntimeOptions, 'logger'> & { adapters: BuiltinAdapterName[] };

/**
 * The one encoding of settings in the environment. A bundler plugin forks the app (NestJS's run
 * script, Next.js's render process): forked processes inherit the environment, and a runtime reads
 * its settings from there when it starts.
 */
const ENV = {
  root: 'ORM_HMR_ROOT',
  report: 'ORM_HMR_REPORT',
  gc: 'ORM_HMR_GC',
  settleMs: 'ORM_HMR_SETTLE_MS',
  memoryLine: 'ORM_HMR_MEMORY_LINE',
  undoSideEffects: 'ORM_HMR_UNDO_SIDE_EFFECTS',
  leakAfter: 'ORM_HMR_LEAK_AFTER',
  trace: 'ORM_HMR_TRACE',
  adapters: 'ORM_HMR_ADAPTERS',
} as const satisfies Record<keyof Settings, string>;

type Env = Record<string, string | undefined>;

export function settingsFromEnv(env: Env = globalThis.process?.env ?? {}): Settings {
  const number = (value: string | undefined, min: number, fallback: number) => (value && Number(value) >= min ? Number(value) : fallback);
  return {
    root: env[ENV.root] || globalThis.process?.cwd?.() || '/',
    report: env[ENV.report] || false,
    gc: env[ENV.gc] !== '0',
    settleMs: number(env[ENV.settleMs], 0, 100),
    memoryLine: env[ENV.memoryLine] !== '0',
    undoSideEffects: env[ENV.undoSideEffects] === '1',
    leakAfter: number(env[ENV.leakAfter], 1, 3),
    trace: env[ENV.trace] === 'keep' ? 'keep' : env[ENV.trace] === '1',
    adapters: env[ENV.adapters]?.split(',').filter(isBuiltinAdapterName) ?? [...builtinAdapterNames],
  };
}

export function settingsToEnv(settings: Settings, env: Env = process.env): void {
  env[ENV.root] = settings.root;
  env[ENV.report] = settings.report || '';
  env[ENV.gc] = settings.gc ? '1' : '0';
  env[ENV.settleMs] = String(settings.settleMs);
  env[ENV.memoryLine] = settings.memoryLine ? '1' : '0';
  env[ENV.undoSideEffects] = settings.undoSideEffects ? '1' : '0';
  env[ENV.leakAfter] = String(settings.leakAfter);
  env[ENV.trace] = settings.trace === 'keep' ? 'keep' : settings.trace ? '1' : '0';
  env[ENV.adapters] = settings.adapters.join(',');
}

/** What `applySettings` needs of the runtime. */
export interface Configurable {
  readonly defaults: Readonly<Settings>;
  configure(options: Partial<RuntimeOptions>): void;
  readonly host: { choose(chosen: readonly (BuiltinAdapterName | Adapter)[]): void };
}

/**
 * A plugin's resolved options become this process's settings (unset options mean the process
 * defaults, not what a previous dev server in this process was given), and the environment of
 * the processes it forks. Adapter objects cannot cross a process boundary: a forked app gets the
 * built-in names and registers its own adapters with `useAdapter()`.
 */
export function applySettings(runtime: Configurable, resolved: ResolvedOptions, root: string, logger?: Logger): void {
  const { defaults } = runtime;
  const adapters = resolved.adapters ?? defaults.adapters;
  runtime.host.choose(adapters);
  const report = resolved.report ? (isAbsolute(resolved.report) ? resolved.report : resolve(root, resolved.report)) : (resolved.report ?? defaults.report);
  const settings: Settings = {
    root,
    report,
    gc: resolved.gc ?? defaults.gc,
    settleMs: resolved.settleMs ?? defaults.settleMs,
    memoryLine: resolved.memoryLine,
    undoSideEffects: resolved.undoSideEffects ?? defaults.undoSideEffects,
    leakAfter: resolved.leakAfter ?? defaults.leakAfter,
    trace: resolved.trace ?? defaults.trace,
    adapters: adapters.filter(isBuiltinAdapterName),
  };
  const { adapters: _names, ...options } = settings;
  runtime.configure({ ...options, ...(logger && { logger }) });
  settingsToEnv(settings);
}
