import { builtinAdapterNames, isBuiltinAdapterName, type BuiltinAdapterName } from './adapters/builtin.ts';
import type { Adapter } from './adapters/types.ts';

/** Globs (resolved against the project root) or regular expressions. */
export type FilterPattern = string | RegExp | readonly (string | RegExp)[];

/** Options of `ormHmr()` (Vite) and, later, the webpack plugin. Every field is optional. */
export interface OrmHmrOptions {
  /**
   * Modules to wrap. By default: every server-side JS/TS module outside `node_modules` that imports
   * a package an adapter handles (`mongoose`). Set it to wrap modules that register models through
   * a helper of your own without importing the ORM.
   * @default /\.[cm]?[jt]sx?$/ and imports a supported ORM
   * @example ['src/models/**', 'src/entities/**']
   */
  include?: FilterPattern;
  /**
   * Modules never to wrap.
   * @default /node_modules/
   */
  exclude?: FilterPattern;
  /**
   * Append one JSON object per reload batch to this file (relative to the project root).
   * @default process.env.ORM_HMR_REPORT
   * @example 'orm-hmr.jsonl'
   */
  report?: string | false;
  /**
   * Force a full GC after each reload batch, before measuring, so heap figures and generation
   * counts mean something. Costs a few tens of ms after the batch, never inside a request.
   * @default true (false when ORM_HMR_GC=0)
   */
  gc?: boolean;
  /**
   * Print the memory line after each reload batch.
   * @default true
   */
  memoryLine?: boolean;
  /**
   * Quiet time, in ms, that ends a reload batch: files re-evaluated closer together than this are
   * reported on one line.
   * @default 100
   */
  settleMs?: number;
  /**
   * The adapters to use, exactly: names of built-in ones and adapters of your own (see
   * `defineAdapter`). By default every built-in adapter, each inert until a module imports its ORM.
   * @default builtinAdapterNames (every built-in adapter)
   * @example ['mongoose', myBusAdapter]
   */
  adapters?: (BuiltinAdapterName | Adapter)[];
  /**
   * Stop the timers, listeners, servers and sockets a model file's top level started, right
   * before it evaluates again. Off by default: clearing them could surprise code that expects them.
   * @default false
   */
  undoSideEffects?: boolean;
  /**
   * After how many reloads an old generation still alive after GC (or side effects piling up)
   * is a leak worth one warning.
   * @default 3
   */
  leakAfter?: number;
  /**
   * When a leak is reported, take a heap snapshot and print the shortest strong path from a GC root
   * to the oldest old generation ("who holds it"). Costs seconds and several times the heap in
   * memory. `'keep'` keeps the snapshot file (in `node_modules/.cache/orm-hmr/`, mode 0600) for
   * DevTools. On demand: press `t` in `vite dev`.
   * @default false (`ORM_HMR_TRACE=1` or `keep`)
   */
  trace?: boolean | 'keep';
}

export interface ResolvedOptions {
  include: FilterPattern | undefined;
  exclude: FilterPattern;
  report: string | false | undefined;
  gc: boolean | undefined;
  memoryLine: boolean;
  settleMs: number | undefined;
  /** Undefined: the default set (or the one the environment chose). */
  adapters: (BuiltinAdapterName | Adapter)[] | undefined;
  undoSideEffects: boolean | undefined;
  leakAfter: number | undefined;
  trace: boolean | 'keep' | undefined;
}

export const defaultExclude: RegExp = /[\\/]node_modules[\\/]/;

/** Checks and fills in the options once; errors name the option. */
export function resolveOptions(options: OrmHmrOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('orm-hmr: options must be an object');
  const check = (name: keyof OrmHmrOptions, ok: boolean, expected: string) => {
    if (options[name] !== undefined && !ok) {
      throw new TypeError(`orm-hmr: option \`${name}\` must be ${expected}, got ${JSON.stringify(options[name])}`);
    }
  };
  const isPattern = (p: unknown) =>
    typeof p === 'string' || p instanceof RegExp || (Array.isArray(p) && p.every((x) => typeof x === 'string' || x instanceof RegExp));
  check('include', isPattern(options.include), 'a glob, a RegExp or an array of them');
  check('exclude', isPattern(options.exclude), 'a glob, a RegExp or an array of them');
  check('report', typeof options.report === 'string' || options.report === false, 'a file path or false');
  check('gc', typeof options.gc === 'boolean', 'a boolean');
  check('memoryLine', typeof options.memoryLine === 'boolean', 'a boolean');
  check('settleMs', typeof options.settleMs === 'number' && options.settleMs >= 0, 'a number of milliseconds (>= 0)');
  check(
    'adapters',
    Array.isArray(options.adapters) &&
      options.adapters.every((a) => isBuiltinAdapterName(a) || (typeof a === 'object' && a !== null && typeof a.entries === 'function')),
    `an array of built-in adapter names (${builtinAdapterNames.join(', ')}) and adapters (see defineAdapter)`,
  );
  check('undoSideEffects', typeof options.undoSideEffects === 'boolean', 'a boolean');
  check('trace', typeof options.trace === 'boolean' || options.trace === 'keep', "a boolean or 'keep'");
  check('leakAfter', Number.isInteger(options.leakAfter) && options.leakAfter! >= 1, 'a whole number of reloads (>= 1)');
  return {
    include: options.include,
    exclude: options.exclude ?? defaultExclude,
    report: options.report,
    gc: options.gc,
    memoryLine: options.memoryLine ?? true,
    settleMs: options.settleMs,
    adapters: options.adapters,
    undoSideEffects: options.undoSideEffects,
    leakAfter: options.leakAfter,
    trace: options.trace,
  };
}
