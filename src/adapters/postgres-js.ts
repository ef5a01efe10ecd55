import { createdByLibrary } from './created-by.ts';
import { dataValue, globalHolds } from './global-cache.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { describe } from '../util/errors.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the postgres.js 3 internals we read: the client is a function with methods assigned to it.
interface Sql {
  (...args: unknown[]): unknown;
  options?: { shared?: object };
  subscribe?: unknown;
  unsafe(query: string): QueryLike;
  begin(...args: unknown[]): Promise<unknown>;
  reserve(): Promise<{ release(): void }>;
  end(options?: { timeout?: number | null }): Promise<void>;
}
interface QueryLike {
  handler?: unknown;
  executed?: boolean;
}
/** What we count for one client: queries started and not settled, transactions and reserved connections open. */
interface Usage {
  sql: Sql;
  queries: number;
  open: number;
  ended: boolean;
}

/**
 * The key postgres.js assigns on each client it builds (`Object.assign(sql, { ..., PostgresError,
 * ... })` in `Postgres()`), which no other code assigns on a function. At that point `subscribe`
 * is set already: `true` on the client postgres.js makes for its own subscriptions.
 */
const MARK = 'PostgresError';

/**
 * postgres.js: the clients a file creates at its top level (`const sql = postgres(url)`, also under
 * Drizzle's `drizzle(sql)`). When the file evaluates again, the previous client is ended
 * (`sql.end()`) once no query is in flight and no transaction or reserved connection is open,
 * unless a global took it back (`globalThis.sql ??= postgres(url)`).
 *
 * The client is a closure: no class or prototype, and `import postgres from 'postgres'` is a fixed
 * ES module binding. Its construction does assign properties on the function it returns, with
 * `Object.assign`, which sets them: an accessor for one key only postgres.js uses, on
 * `Function.prototype`, turns that assignment into a call (the setter puts a plain property back).
 * postgres.js keeps no counters we could read, so we count at its `Query#handle()` (where every
 * query starts) and around `sql.begin()` and `sql.reserve()`.
 */
export function postgresJsAdapter(): Adapter {
  const live = new Set<Usage>();
  // The top-level query handler of each client seen: how a query finds the client it runs on.
  const byHandler = new WeakMap<object, Usage>();
  // `options.shared` of each client seen: `listen()` makes a client sharing it, which is its parent's.
  const shared = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let queryPatched = false;
  let context: AdapterContext | undefined;

  // A failure here must not break the app's `postgres()` call.
  const safely = (work: () => void) => {
    try {
      work();
    } catch (error) {
      context?.log('warn', `could not follow a postgres.js client: ${describe(error)}`);
    }
  };

  const entry = (usage: Usage): Entry => ({ container: live, value: usage.sql, label: 'Sql', release: () => release(usage) });

  const release = (usage: Usage): 'closed' | 'reused' => {
    if (heldByGlobal(usage.sql)) return 'reused';
    live.delete(usage);
    closeWhenQuiet(
      () => usage.queries + usage.open > 0,
      () => {
        if (usage.ended) return undefined;
        usage.ended = true;
        // Idle now: end() only waits for the connections to say goodbye; a stuck one is cut after 5 s.
        return usage.sql.end({ timeout: 5 });
      },
      'previous postgres.js client',
      (message) => context?.log('warn', message),
    );
    return 'closed';
  };

  // At MARK, `Object.assign` has yet to set `options`, `begin`, `reserve` and `end`, which comes
  // last: a setter of the client's own for `end` sees the client complete.
  const marked = (fn: object) => {
    if ((fn as Sql).subscribe === true || typeof (fn as Sql).unsafe !== 'function' || Object.hasOwn(fn, 'end')) return;
    Object.defineProperty(fn, 'end', {
      configurable: true,
      set(this: object, value: unknown) {
        Object.defineProperty(this, 'end', { value, writable: true, enumerable: true, configurable: true });
        safely(() => seen(this));
      },
    });
  };

  const seen = (fn: object) => {
    const sql = fn as Sql;
    if (typeof sql.end !== 'function' || typeof sql.begin !== 'function') return;
    const options = sql.options;
    if (options?.shared && shared.has(options.shared)) return;
    if (createdByLibrary(['postgres', 'drizzle-orm'])) return;
    if (options?.shared) shared.add(options.shared);
    const usage: Usage = { sql, queries: 0, open: 0, ended: false };
    // A query object is built, never run: its handler is the client's, its prototype Query's.
    const probe = sql.unsafe('');
    if (probe?.handler && typeof probe.handler === 'function') byHandler.set(probe.handler, usage);
    countQueries(Object.getPrototypeOf(probe));
    countOpen(usage);
    const end = sql.end;
    sql.end = function (this: unknown, ...args: unknown[]) {
      usage.ended = true;
      live.delete(usage);
      return end.apply(this, args as []);
    };
    live.add(usage);
    context?.register(entry(usage));
  };

  /** Every query, whatever builds it, starts in `Query#handle()` and settles as the promise it is. */
  const countQueries = (proto: { handle?: unknown } | null) => {
    if (queryPatched || !proto || typeof proto.handle !== 'function') return;
    queryPatched = true;
    restores.push(
      patchMethod(proto as { handle(): unknown }, 'handle', (handle) =>
        function (this: QueryLike & Promise<unknown>) {
          const usage = !this.executed && typeof this.handler === 'function' ? byHandler.get(this.handler) : undefined;
          const result = handle.call(this);
          if (usage) {
            usage.queries++;
            const done = () => void usage.queries--;
            // Promise's own then: Query's would call handle() again.
            Promise.prototype.then.call(this, done, done);
          }
          return result;
        },
      ),
      () => (queryPatched = false),
    );
  };

  /** `sql.begin()` holds a connection until it settles, a reserved connection until `release()`. */
  const countOpen = (usage: Usage) => {
    const sql = usage.sql;
    patchMethod(sql, 'begin', (begin) =>
      function (this: unknown, ...args: unknown[]) {
        usage.open++;
        const done = () => void usage.open--;
        const result = begin.apply(this, args);
        result.then(done, done);
        return result;
      },
    );
    patchMethod(sql, 'reserve', (reserve) =>
      async function (this: unknown) {
        usage.open++;
        try {
          const reserved = await reserve.call(this);
          let released = false;
          patchMethod(reserved, 'release', (releaseReserved) =>
            function (this: unknown) {
              if (!released) usage.open--;
              released = true;
              return releaseReserved.call(this);
            },
          );
          return reserved;
        } catch (error) {
          usage.open--;
          throw error;
        }
      },
    );
  };

  return {
    name: 'postgres',
    packages: ['postgres'],
    reports: true,

    attach(_namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      if (restores.length) return;
      const proto = Function.prototype as unknown as Record<string, unknown>;
      if (Object.hasOwn(proto, MARK)) return;
      const accessor: PropertyDescriptor = {
        configurable: true,
        get: () => undefined,
        set(this: object, value: unknown) {
          Object.defineProperty(this, MARK, { value, writable: true, enumerable: true, configurable: true });
          safely(() => marked(this));
        },
      };
      Object.defineProperty(proto, MARK, accessor);
      restores.push(() => {
        if (Object.getOwnPropertyDescriptor(proto, MARK)?.set === accessor.set) delete proto[MARK];
      });
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const usage of live) out.push(entry(usage));
      return out;
    },
  };
}

/** Whether a global holds `sql`, or a Drizzle db over it (`db.$client`). */
function heldByGlobal(sql: Sql): boolean {
  return globalHolds((candidate) => candidate === sql || (typeof candidate === 'object' && candidate !== null && dataValue(candidate, '$client') === sql));
}
