import { createdByLibrary } from './created-by.ts';
import { dataValue, globalHolds } from './global-cache.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { builtin } from '../util/builtin.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

/** better-sqlite3 12's native handle (`db[cppdb]`), which its JS `Database` forwards to. */
interface NativeDatabase {
  open: boolean;
  inTransaction: boolean;
  close(): void;
}
type DatabaseClass = new (filename?: string) => object;

/**
 * better-sqlite3: the `Database`s a file opens at its top level (also under Drizzle's
 * `drizzle(sqlite)`). When the file evaluates again, the previous one is closed once no
 * transaction is open, unless a global took it back (`globalThis.db ??= new Database(file)`).
 *
 * Its JS constructor calls nothing we could wrap and defines its properties with
 * `Object.defineProperties`, and `import Database from 'better-sqlite3'` is a fixed binding. What
 * it does call is `new addon.Database(...)` on its native addon, a CommonJS exports object read at
 * each call: we put a wrapper there, which sees each native handle as it is made.
 */
export function betterSqlite3Adapter(): Adapter {
  const live = new Set<NativeDatabase>();
  const restores: (() => void)[] = [];
  // The symbol under which the JS Database keeps its native handle.
  let handleKey: symbol | undefined;
  let context: AdapterContext | undefined;

  const entry = (db: NativeDatabase): Entry => ({ container: live, value: db, label: 'Database', release: () => release(db) });

  const release = (db: NativeDatabase): 'closed' | 'reused' => {
    if (heldByGlobal(db)) return 'reused';
    live.delete(db);
    closeWhenQuiet(() => db.open && db.inTransaction, () => (db.open ? db.close() : undefined), 'previous better-sqlite3 Database', (message) => context?.log('warn', message));
    return 'closed';
  };

  /** A global holds the JS `Database` (or a Drizzle db whose `$client` it is), not the native handle. */
  const heldByGlobal = (db: NativeDatabase) =>
    globalHolds((candidate) => {
      if (candidate === db || !handleKey) return candidate === db;
      return dataValue(candidate, handleKey) === db || dataValue(dataValue(candidate, '$client'), handleKey) === db;
    });

  return {
    name: 'better-sqlite3',
    // `drizzle('app.db')` opens its database for the module that calls it.
    packages: ['better-sqlite3', 'drizzle-orm'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      if (restores.length) return;
      const Database = findDatabase(namespace);
      if (!Database) return;
      // One in-memory database finds the native class and loads the addon, if nothing had yet.
      const probe = new Database(':memory:');
      handleKey = Object.getOwnPropertySymbols(probe).find((symbol) => typeof (probe as Record<symbol, NativeDatabase>)[symbol]?.close === 'function');
      const Native = handleKey && ((probe as Record<symbol, object>)[handleKey]!.constructor as new (...args: unknown[]) => NativeDatabase);
      (probe as { close(): void }).close();
      const addon = Native && findAddon(Native);
      if (!Native || !addon) return;
      const wrapped = function Database(...args: unknown[]) {
        const db = Reflect.construct(Native, args, Native);
        // TypeORM's database (its DataSource may be reused across reloads) is TypeORM's.
        if (createdByLibrary(['better-sqlite3', 'drizzle-orm'])) return db;
        live.add(db);
        context?.register(entry(db));
        return db;
      };
      wrapped.prototype = Native.prototype;
      addon.Database = wrapped;
      restores.push(() => {
        if (addon.Database === wrapped) addon.Database = Native;
      });
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const db of live) {
        // Closed by the app itself: nothing left to release.
        if (!db.open) {
          live.delete(db);
          continue;
        }
        out.push(entry(db));
      }
      return out;
    },
  };
}

/** `Database` from `import Database from 'better-sqlite3'`, a namespace or `require('better-sqlite3')`. */
function findDatabase(namespace: unknown): DatabaseClass | undefined {
  for (const candidate of [namespace, (namespace as { default?: unknown } | undefined)?.default]) {
    const proto = (candidate as { prototype?: { prepare?: unknown; close?: unknown } } | undefined)?.prototype;
    if (typeof candidate === 'function' && typeof proto?.prepare === 'function' && typeof proto.close === 'function') return candidate as DatabaseClass;
  }
  return undefined;
}

/** The loaded native addon (a CommonJS exports object in Node's module cache) that exports `Native`. */
function findAddon(Native: object): { Database: unknown } | undefined {
  const cache = builtin<typeof import('node:module')>('node:module')?.createRequire(`${process.cwd()}/`).cache ?? {};
  for (const loaded of Object.values(cache)) {
    const exports = loaded?.exports as { Database?: unknown } | undefined;
    if (exports?.Database === Native) return exports as { Database: unknown };
  }
  return undefined;
}
