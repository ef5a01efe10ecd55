import { hookAssignment } from './assignment-hook.ts';
import { createdByLibrary } from './created-by.ts';
import { heldByGlobal } from './global-cache.ts';
import { asPooled, constructingPooled, ownerOf } from './pooled.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the pg 8 internals we read; all public counters except the Client's.
interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ending?: boolean;
  ended?: boolean;
  end(): Promise<void>;
}
interface ClientLike {
  _queryQueue?: unknown[];
  _sentQueryQueue?: unknown[];
  _activeQuery?: unknown;
  _connecting?: boolean;
  /** The server's transaction status from the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' a failed one. */
  _txStatus?: string | null;
  _ending?: boolean;
  end(): Promise<void>;
}
type Class = { prototype: object };

/** A pg Pool has a client checked out (a query or a transaction), or a caller waiting for one. */
export function poolBusy(pool: Pick<PoolLike, 'totalCount' | 'idleCount' | 'waitingCount'>): boolean {
  return pool.totalCount - pool.idleCount > 0 || pool.waitingCount > 0;
}

/**
 * node-postgres: the `Pool`s and `Client`s a file creates at its top level (`new pg.Pool(...)`,
 * also under Drizzle's `drizzle(pool)`). When the file evaluates again, the previous one is ended
 * once it has no query in flight (a pool: no client checked out, no caller waiting; a client: an
 * empty query queue, no active query, no open transaction), unless a global took it back
 * (`globalThis.pool ??= new Pool()`). Clients a pool opens for itself are the pool's, and those a
 * library creates (TypeORM's pool, Sequelize's and knex's clients) the library's.
 */
export function pgAdapter(): Adapter {
  // Every pool and client seen and not ended yet.
  const live = new Set<PoolLike | ClientLike>();
  const kinds = new WeakMap<object, 'Pool' | 'Client'>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  const entry = (value: PoolLike | ClientLike): Entry => ({ container: live, value, label: kinds.get(value), release: () => release(value) });
  const seen = (kind: 'Pool' | 'Client') => (instance: object) => {
    if (kind === 'Client' && constructingPooled()) return;
    // TypeORM's pool, Sequelize's and knex's clients are theirs; Drizzle's `drizzle(url)` makes its
    // pool for the caller, like `new Pool()`.
    if (createdByLibrary(['pg', 'pg-pool', 'drizzle-orm'])) return;
    kinds.set(instance, kind);
    live.add(instance as PoolLike);
    context?.register(entry(instance as PoolLike));
  };

  const release = (value: PoolLike | ClientLike): 'closed' | 'reused' => {
    if (heldByGlobal(value)) return 'reused';
    live.delete(value);
    const kind = kinds.get(value) ?? 'Client';
    const log = (message: string) => context?.log('warn', message);
    if (kind === 'Pool') {
      const pool = value as PoolLike;
      closeWhenQuiet(() => poolBusy(pool), () => (pool.ending ? undefined : pool.end()), 'previous pg Pool', log);
    } else {
      const client = value as ClientLike;
      closeWhenQuiet(() => clientBusy(client), () => (client._ending ? undefined : client.end()), 'previous pg Client', log);
    }
    return 'closed';
  };

  return {
    name: 'pg',
    // A module that only imports Drizzle may create a pool through it: `drizzle(process.env.DATABASE_URL)`.
    packages: ['pg', 'drizzle-orm'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      const pg = findPg(namespace);
      if (!pg || patched.has(pg.Pool.prototype)) return;
      patched.add(pg.Pool.prototype);
      // The last assignment in each constructor (pg 8): the instance is complete when we see it.
      restores.push(hookAssignment(pg.Pool.prototype, 'ended', seen('Pool')));
      restores.push(hookAssignment(pg.Client.prototype, '_connectionTimeoutMillis', seen('Client')));
      const poolProto = ownerOf(pg.Pool.prototype, 'newClient') as { newClient(...args: unknown[]): unknown } | undefined;
      if (poolProto) {
        restores.push(
          patchMethod(poolProto, 'newClient', (newClient) =>
            function (this: unknown, ...args: unknown[]) {
              return asPooled(() => newClient.apply(this, args));
            },
          ),
        );
      }
      restores.push(() => patched.delete(pg.Pool.prototype));
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const value of live) {
        // Ended by the app itself: nothing left to release.
        if ((value as PoolLike).ending || (value as PoolLike).ended || (value as ClientLike)._ending) {
          live.delete(value);
          continue;
        }
        out.push(entry(value));
      }
      return out;
    },
  };
}

/** A pg Client with work in flight or a transaction open. */
function clientBusy(client: ClientLike): boolean {
  return (
    (client._queryQueue?.length ?? 0) > 0 ||
    (client._sentQueryQueue?.length ?? 0) > 0 ||
    !!client._activeQuery ||
    !!client._connecting ||
    client._txStatus === 'T' ||
    client._txStatus === 'E'
  );
}

/** `Pool` and `Client` from `import pg from 'pg'`, `import * as ns from 'pg'` or `require('pg')`. */
function findPg(namespace: unknown): { Pool: Class; Client: Class } | undefined {
  const ns = namespace as { Pool?: unknown; Client?: unknown; default?: { Pool?: unknown; Client?: unknown } } | undefined;
  for (const candidate of [ns, ns?.default]) {
    const { Pool, Client } = candidate ?? {};
    if (typeof Pool === 'function' && typeof Client === 'function' && typeof (Pool.prototype as { end?: unknown }).end === 'function') {
      return { Pool: Pool as Class, Client: Client as Class };
    }
  }
  return undefined;
}
