/**
 * The one interface every adapter implements, built-in or yours.
 *
 * An adapter describes a registry (Mongoose's `models`, an event bus, a DI container) as entries.
 * Each entry registered while a tracked module evaluates belongs to that file. Before the file
 * evaluates again, its entries are removed; if the new evaluation throws, they are put back.
 *
 * Two ways to tell orm-hmr what a module registered:
 * - **Report** (`reports: true`, the built-in adapters): hook the registry's own registration calls
 *   and call `context.register(entry)` as each happens, like React Refresh's `$RefreshReg$`. The
 *   cost is what a file registers. `entries()` is then read only once per reload batch, after it,
 *   to notice registrations no hook saw.
 * - **List** (the default): `entries()` is listed before and after each tracked evaluation and
 *   the two are diffed. Simple, but each evaluation costs what this registry holds.
 */
export interface Adapter {
  /** Shown in logs and reports: `mongoose:User`. */
  readonly name: string;
  /**
   * Packages whose import marks a module as one to track (zero-config detection), and whose
   * namespace the transform hands to {@link Adapter.attach} so the adapter sees the very instance
   * the app uses, even in a bundle.
   * @example ['mongoose']
   */
  readonly packages?: readonly string[];
  /** Receives a package namespace a tracked module imported (`import * as ns from 'mongoose'`). */
  attach?(namespace: unknown, specifier: string, context: AdapterContext): void;
  /** Whether {@link Adapter.attach} has found anything yet; when not, orm-hmr requires the package from the module's folder. */
  attached?(): boolean;
  /**
   * The adapter calls `context.register()` for each registration as it happens; the runtime then
   * never lists its entries around an evaluation.
   * @default false
   */
  readonly reports?: boolean;
  /** Everything registered right now. Without `reports`, called twice per tracked evaluation: keep it cheap. */
  entries(): Iterable<Entry>;
  /** Called after a file's evaluation succeeded, with this adapter's entries it registered. */
  committed?(entries: Entry[]): void;
  /** The adapter is dropped (the `adapters` option changed): undo what `attach` patched. */
  detach?(): void;
}

/** What the runtime offers adapters. */
export interface AdapterContext {
  /**
   * Reports a registration as it happens: it belongs to the module evaluating now (the innermost
   * one), and to no file outside an evaluation (a model is still counted in `alive`).
   */
  register(entry: Entry): void;
  /**
   * Tell the runtime the file now evaluating tried to register `label`, which another file's
   * live generation already holds. The runtime warns once, naming both files.
   */
  conflict(label: string): void;
  /**
   * Requires `specifier` from the folder of the module being evaluated (Node's resolution), for
   * adapters that need a package's internals beside its public namespace. Undefined where there is
   * no file path or no `node:module` (browsers, virtual modules).
   */
  require?(specifier: string): unknown;
  /**
   * Tells the memory line and the report what the adapter did on its own, outside `release()`:
   * `dropped mongoose:connection`.
   */
  released(name: string, action: 'closed' | 'reused' | 'dropped'): void;
  /** A line in the dev server's log, for what an adapter decided on its own (never print a connection string). */
  log(level: 'info' | 'warn', message: string): void;
}

/** One thing held by a registry. */
export interface Entry {
  /** The object that holds the value: a plain object, a Map, a Set or an array. */
  container: object;
  /** The property or Map key; omit for arrays and Sets (the value is its own key). */
  key?: PropertyKey;
  /** What is registered. Compared by identity. */
  value: unknown;
  /** Name shown in the memory line and report (`User`); entries without one are bookkeeping. */
  label?: string;
  /** Count how many generations of `value` (or of `trackedValue`) stay alive after GC, under `label`. */
  track?: boolean;
  /**
   * The object whose generations `track` counts, when it is not `value`: TypeORM's registry holds
   * an args object per decorator, and the generation that matters is the entity class it names.
   */
  trackedValue?: object;
  /**
   * Custom removal, when deleting from `container` is not enough. Returns the undo, run if the
   * new evaluation throws. Without it orm-hmr deletes the key (objects, Maps) or the value
   * (arrays, Sets), and only while the container still holds this very value.
   */
  remove?(): () => void;
  /**
   * Called once the entry is gone for good: its file evaluated again successfully (or was deleted)
   * and did not put it back. Close a connection here, not in `remove` (the new evaluation may still
   * throw and need it back). Return what was done, for the memory line: `closed` (or will be, once
   * its in-flight work is done) or `reused`. A `reused` entry that its container still holds
   * moves to the new generation, to be released (or reused) again when that one goes.
   */
  release?(): 'closed' | 'reused' | void;
}

/** Declares an adapter; the identity function, there for types and for symmetry with the built-ins. */
export function defineAdapter<A extends Adapter>(adapter: A): A {
  if (!adapter || typeof adapter.name !== 'string' || !adapter.name) {
    throw new TypeError('orm-hmr: defineAdapter() needs a `name`');
  }
  if (typeof adapter.entries !== 'function') {
    throw new TypeError(`orm-hmr: adapter "${adapter.name}" needs an \`entries()\` function`);
  }
  return adapter;
}
