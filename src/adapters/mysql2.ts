import { hookAssignment } from './assignment-hook.ts';
import { createdByLibrary } from './created-by.ts';
import { dataValue, globalHolds } from './global-cache.ts';
import { asPooled, constructingPooled } from './pooled.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the mysql2 3 internals we read (lib/base/pool.js, lib/base/connection.js, lib/pool_cluster.js).
interface Queue {
  length: number;
}
interface PoolLike {
  _allConnections: Queue;
  _freeConnections: Queue;
  /** Callers waiting for a connection. */
  _connectionQueue: Queue;
  _closed: boolean;
  end(callback: (error?: unknown) => void): void;
}
interface ConnectionLike {
  /** The command running now (the handshake while connecting), then those queued behind it. */
  _command: unknown;
  _commands: Queue;
  _closing?: boolean;
  _fatalError?: unknown;
  config?: { isServer?: boolean };
  end(callback: () => void): void;
}
interface ClusterLike {
  _closed: boolean;
  _nodes: Record<string, { pool: PoolLike }>;
  end(callback: (error?: unknown) => void): void;
}
type Kind = 'Pool' | 'Connection' | 'PoolCluster';
type Client = PoolLike | ConnectionLike | ClusterLike;
interface Mysql2 {
  Pool: { prototype: object };
  Connection: { prototype: object };
  PoolConnection: Function;
  PoolCluster: { prototype: { add(...args: unknown[]): unknown } };
  createQuery(sql: string, values: unknown, callback: undefined, config: object): object;
}

/** The server status flag an OK packet carries while a transaction is open. */
const SERVER_STATUS_IN_TRANS = 1;

/**
 * mysql2: the pools, pool clusters and connections a file creates at its top level
 * (`mysql.createPool()`, `createPoolCluster()`, `createConnection()`, callback or `mysql2/promise`
 * API, also under Drizzle's `drizzle(pool)`). When the file evaluates again, the previous one is
 * ended once idle (a pool: no connection checked out or being opened, no caller waiting, which
 * covers a transaction; a connection: no command running or queued, no transaction open), unless
 * a global took it back (`globalThis.pool ??= mysql.createPool(url)`). A pool's own connections
 * and a cluster's pools are theirs; what a library creates (knex's and Sequelize's connections) is
 * the library's.
 */
export function mysql2Adapter(): Adapter {
  const live = new Set<Client>();
  const kinds = new WeakMap<object, Kind>();
  // From the last OK packet of each connection: whether the server said a transaction is open.
  const inTransaction = new WeakMap<object, boolean>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  const entry = (client: Client): Entry => ({ container: live, value: client, label: kinds.get(client), release: () => release(client) });

  const seen = (kind: Kind, PoolConnection?: Function) => (instance: object) => {
    if (constructingPooled() || (PoolConnection && instance instanceof PoolConnection)) return;
    if ((instance as ConnectionLike).config?.isServer) return; // mysql2's own server side
    // Drizzle's `drizzle(url)` makes its pool for the caller, like `createPool()`.
    if (createdByLibrary(['mysql2', 'drizzle-orm'])) return;
    kinds.set(instance, kind);
    live.add(instance as Client);
    context?.register(entry(instance as Client));
  };

  const release = (client: Client): 'closed' | 'reused' => {
    if (globalHolds((candidate) => reaches(candidate, client))) return 'reused';
    live.delete(client);
    const kind = kinds.get(client)!;
    const end = (target: { end(callback: (error?: unknown) => void): void }) => new Promise<void>((resolve, reject) => target.end((error) => (error ? reject(error) : resolve())));
    const log = (message: string) => context?.log('warn', message);
    if (kind === 'Connection') {
      const connection = client as ConnectionLike;
      closeWhenQuiet(() => !gone(connection) && (!!connection._command || connection._commands.length > 0 || !!inTransaction.get(connection)), () => (gone(connection) ? undefined : end(connection)), 'previous mysql2 Connection', log);
    } else if (kind === 'Pool') {
      const pool = client as PoolLike;
      closeWhenQuiet(() => poolBusy(pool), () => (pool._closed ? undefined : end(pool)), 'previous mysql2 Pool', log);
    } else {
      const cluster = client as ClusterLike;
      const pools = () => Object.values(cluster._nodes).map((node) => node.pool);
      closeWhenQuiet(() => pools().some(poolBusy), () => (cluster._closed ? undefined : end(cluster)), 'previous mysql2 PoolCluster', log);
    }
    return 'closed';
  };

  return {
    name: 'mysql2',
    // `mysql2/promise` exports no core class; Drizzle's `drizzle(url)` creates a pool itself.
    packages: ['mysql2', 'mysql2/promise', 'drizzle-orm'],
    reports: true,

    attach(namespace, specifier, adapterContext) {
      context = adapterContext ?? context;
      // `mysql2/promise` wraps the core API of the `mysql2` beside it: requiring that loads only its
      // index, the classes are those `mysql2/promise` loaded.
      const mysql2 = findMysql2(namespace) ?? (specifier === 'mysql2/promise' ? findMysql2(context?.require?.('mysql2')) : undefined);
      if (!mysql2 || patched.has(mysql2.Pool.prototype)) return;
      patched.add(mysql2.Pool.prototype);
      const { Pool, Connection, PoolConnection, PoolCluster } = mysql2;
      // The last assignment each constructor always makes (mysql2 3): the instance is complete.
      restores.push(
        hookAssignment(Pool.prototype, '_closed', seen('Pool')),
        hookAssignment(Connection.prototype, 'serverEncoding', seen('Connection', PoolConnection)),
        hookAssignment(PoolCluster.prototype, '_findCaches', seen('PoolCluster')),
        // A cluster's pools are the cluster's.
        patchMethod(PoolCluster.prototype, 'add', (add) =>
          function (this: unknown, ...args: unknown[]) {
            return asPooled(() => add.apply(this, args));
          },
        ),
      );
      // A query's OK packet says whether a transaction is open on its connection (`execute()`
      // shares the original function, so a COMMIT run through it leaves the connection open).
      const Query = Object.getPrototypeOf(mysql2.createQuery('', undefined, undefined, {})) as { resultsetHeader(packet: unknown, connection: object): unknown };
      restores.push(
        patchMethod(Query, 'resultsetHeader', (resultsetHeader) =>
          function (this: { _rows?: unknown[] }, packet: unknown, connection: object) {
            const next = resultsetHeader.call(this, packet, connection);
            const status = (this._rows?.at(-1) as { serverStatus?: unknown } | undefined)?.serverStatus;
            if (typeof status === 'number') inTransaction.set(connection, (status & SERVER_STATUS_IN_TRANS) !== 0);
            return next;
          },
        ),
        () => patched.delete(Pool.prototype),
      );
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const client of live) {
        // Ended by the app itself: nothing left to release.
        if (kinds.get(client) === 'Connection' ? gone(client as ConnectionLike) : (client as PoolLike | ClusterLike)._closed) {
          live.delete(client);
          continue;
        }
        out.push(entry(client));
      }
      return out;
    },
  };
}

/** A pool with a connection checked out or being opened, or a caller waiting for one. */
function poolBusy(pool: PoolLike): boolean {
  return !pool._closed && (pool._allConnections.length > pool._freeConnections.length || pool._connectionQueue.length > 0);
}

/** A connection ended, closing, or broken: nothing more can run on it. */
function gone(connection: ConnectionLike): boolean {
  return !!connection._closing || !!connection._fatalError || Object.hasOwn(connection, 'addCommand');
}

/**
 * Whether `candidate` (a global's value) is `client` or stands for it: a `mysql2/promise` wrapper
 * (`.pool`, `.connection`, `.poolCluster`), or a Drizzle database whose `$client` is one.
 */
function reaches(candidate: unknown, client: object): boolean {
  for (const value of [candidate, dataValue(candidate, '$client')]) {
    if (value === client) return true;
    for (const key of ['pool', 'connection', 'poolCluster']) if (dataValue(value, key) === client) return true;
  }
  return false;
}

/** mysql2's core API from `import mysql from 'mysql2'`, `import * as ns from 'mysql2'` or `require('mysql2')`. */
function findMysql2(namespace: unknown): Mysql2 | undefined {
  for (const candidate of [namespace, (namespace as { default?: unknown } | undefined)?.default]) {
    const ns = candidate as Partial<Mysql2> | undefined;
    if (typeof ns?.Pool === 'function' && typeof ns.Connection === 'function' && typeof ns.PoolConnection === 'function' && typeof ns.PoolCluster === 'function' && typeof ns.createQuery === 'function') {
      return ns as Mysql2;
    }
  }
  return undefined;
}
