import { hookAssignment } from './assignment-hook.ts';
import { createdByLibrary } from './created-by.ts';
import { dataValue, globalHolds } from './global-cache.ts';
import { asPooled, ownerOf } from './pooled.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the knex 3 internals we read: its client and the client's tarn pool.
export interface TarnPool {
  numUsed(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
  numPendingValidations?(): number;
}
interface KnexClient {
  pool?: TarnPool;
  destroy(): Promise<void>;
  acquireRawConnection?(...args: unknown[]): unknown;
}

/**
 * knex (also under Objection): the instances a file creates at its top level (`knex(config)`).
 * Each owns a tarn pool whose reap timer keeps it, and its connections, forever. When the file
 * evaluates again, the previous instance is destroyed once its pool has no connection in use and
 * nothing pending (a transaction holds its connection, so it counts), unless a global took it back
 * (`globalThis.db ??= knex(config)`). What knex sees is its client: one per `knex()` call.
 */
export function knexAdapter(): Adapter {
  const live = new Set<KnexClient>();
  // Pools already reported: `knex.withUserParams()` copies a client, pool included.
  const pools = new WeakSet<object>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  const entry = (client: KnexClient): Entry => ({ container: live, value: client, label: 'knex', release: () => release(client) });
  const seen = (instance: object) => {
    const client = instance as KnexClient;
    // No pool (`pool: { max: 0 }`, no connection): nothing to close.
    if (!client.pool || pools.has(client.pool)) return;
    // MikroORM's knex is MikroORM's.
    if (createdByLibrary(['knex'])) return;
    pools.add(client.pool);
    pooledConnections(client);
    live.add(client);
    context?.register(entry(client));
  };

  // The connections the pool opens are its own (the pg adapter would otherwise see each).
  const pooledConnections = (client: KnexClient) => {
    const owner = ownerOf(client, 'acquireRawConnection') as KnexClient | undefined;
    if (!owner || patched.has(owner)) return;
    patched.add(owner);
    restores.push(
      patchMethod(owner as Required<KnexClient>, 'acquireRawConnection', (acquire) =>
        function (this: unknown, ...args: unknown[]) {
          return asPooled(() => acquire.apply(this, args));
        },
      ),
      () => patched.delete(owner),
    );
  };

  const release = (client: KnexClient): 'closed' | 'reused' => {
    if (heldByGlobal(client)) return 'reused';
    live.delete(client);
    closeWhenQuiet(
      () => !!client.pool && tarnBusy(client.pool),
      () => (client.pool ? client.destroy() : undefined),
      'previous knex instance',
      (message) => context?.log('warn', message),
    );
    return 'closed';
  };

  return {
    name: 'knex',
    packages: ['knex'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      const Client = findKnexClient(namespace);
      if (!Client || patched.has(Client.prototype)) return;
      patched.add(Client.prototype);
      // The last assignment in knex 3's Client constructor, after the pool exists.
      restores.push(hookAssignment(Client.prototype, 'valueForUndefined', seen), () => patched.delete(Client.prototype));
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const client of live) {
        // Destroyed by the app itself: nothing left to release.
        if (!client.pool) {
          live.delete(client);
          continue;
        }
        out.push(entry(client));
      }
      return out;
    },
  };
}

/** Whether a global holds `client` or the `knex` function standing for it (`globalThis.db ??= knex(config)`). */
function heldByGlobal(client: KnexClient): boolean {
  return globalHolds((candidate) => candidate === client || (typeof candidate === 'function' && dataValue(dataValue(candidate, 'context'), 'client') === client));
}

/** knex's `Client` class from `import knex from 'knex'`, `import * as ns from 'knex'` or `require('knex')`. */
function findKnexClient(namespace: unknown): { prototype: object } | undefined {
  const ns = namespace as { knex?: { Client?: unknown }; default?: { Client?: unknown }; Client?: unknown } | undefined;
  for (const candidate of [ns?.Client, ns?.knex?.Client, ns?.default?.Client]) {
    if (typeof candidate === 'function' && typeof (candidate.prototype as KnexClient).destroy === 'function') return candidate as { prototype: object };
  }
  return undefined;
}

/** A tarn pool (knex's, also under MikroORM 6) with a connection in use or anything pending: a query or transaction in flight. */
export function tarnBusy(pool: TarnPool): boolean {
  return pool.numUsed() + pool.numPendingAcquires() + pool.numPendingCreates() + (pool.numPendingValidations?.() ?? 0) > 0;
}
