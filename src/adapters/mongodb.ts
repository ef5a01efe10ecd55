import { heldByGlobal, type Aliases } from './global-cache.ts';
import { CLOSE_MAX_MS, CLOSE_QUIET_MS, closeWhenIdle, type ClientLike } from './idle.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

interface MongoClientLike extends ClientLike {
  options?: { driverInfo?: { name?: string } };
  close(): Promise<void>;
}
interface MongoClientClass {
  prototype: {
    connect(this: MongoClientLike, ...args: unknown[]): Promise<unknown>;
    close(): Promise<void>;
    /** Internal, called last in the constructor (mongodb 6 and 7): where we see a new client. */
    checkForNonGenuineHosts?(this: MongoClientLike, ...args: unknown[]): unknown;
  };
}


/** `driverInfo.name` of the clients ORMs create for themselves. */
const ORM_CLIENTS = new Set(['Mongoose', 'TypeORM']);

/**
 * MongoDB driver: the `MongoClient`s a file creates at its top level (`new MongoClient(uri)`,
 * `MongoClient.connect(uri)`). When the file evaluates again, its previous client is closed once
 * its in-flight operations are done, unless the new evaluation took it back through a global.
 * Clients Mongoose and TypeORM create (they name themselves in `driverInfo`) belong to their
 * connections and DataSources, which those adapters handle: they are left alone here.
 */
export function mongodbAdapter(): Adapter {
  // Every client seen and not closed yet. A purged client leaves it until released or put back.
  const live = new Set<MongoClientLike>();
  // `client.connect()` promises, for `globalThis._mongoClientPromise ??= client.connect()`.
  const aliases: Aliases = new WeakMap();
  const patched = new WeakSet<object>();
  let found = false;
  let context: AdapterContext | undefined;

  const entry = (client: MongoClientLike): Entry => ({ container: live, value: client, label: 'MongoClient', release: () => release(client) });
  // The constructor and `connect()` both see a client: it is reported once.
  const seen = (client: MongoClientLike) => {
    if (live.has(client) || ORM_CLIENTS.has(client.options?.driverInfo?.name ?? '')) return;
    live.add(client);
    context?.register(entry(client));
  };

  const release = (client: MongoClientLike): 'closed' | 'reused' => {
    if (heldByGlobal(client, aliases)) {
      live.add(client);
      return 'reused';
    }
    closeWhenIdle(client, () => client.close(), { quietMs: CLOSE_QUIET_MS, maxMs: CLOSE_MAX_MS, what: 'previous MongoClient', log: (message) => context?.log('warn', message) });
    return 'closed';
  };

  const restores: (() => void)[] = [];

  return {
    name: 'mongodb',
    packages: ['mongodb'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      const MongoClient = findMongoClient(namespace);
      if (!MongoClient || patched.has(MongoClient.prototype)) return;
      patched.add(MongoClient.prototype);
      found = true;
      const proto = MongoClient.prototype;
      // The constructor's last step: a client is seen the moment it exists, connected or not.
      restores.push(
        patchMethod(proto, 'checkForNonGenuineHosts', (check) =>
          function (this: MongoClientLike, ...args: unknown[]) {
            seen(this);
            return check!.apply(this, args);
          },
        ),
      );
      // A driver without that hook still shows its clients here, at the latest on first use.
      restores.push(
        patchMethod(proto, 'connect', (connect) =>
          function (this: MongoClientLike, ...args: unknown[]) {
            seen(this);
            const promise = connect.apply(this, args);
            if (promise && typeof promise === 'object') aliases.set(promise, this);
            return promise;
          },
        ),
      );
      restores.push(() => patched.delete(proto));
    },

    attached: () => found,

    detach() {
      for (const restore of restores.splice(0)) restore();
      found = false;
    },

    entries() {
      const out: Entry[] = [];
      for (const client of live) {
        // Closed by the app itself: nothing left to release.
        if (client.s?.hasBeenClosed) {
          live.delete(client);
          continue;
        }
        out.push(entry(client));
      }
      return out;
    },
  };
}

/** `MongoClient` from `import * as ns from 'mongodb'`, a bundler's interop object, or `require('mongodb')`. */
function findMongoClient(namespace: unknown): MongoClientClass | undefined {
  const ns = namespace as { MongoClient?: unknown; default?: { MongoClient?: unknown } } | undefined;
  for (const candidate of [ns?.MongoClient, ns?.default?.MongoClient]) {
    const proto = (candidate as MongoClientClass | undefined)?.prototype;
    if (typeof candidate === 'function' && typeof proto?.connect === 'function' && typeof proto.close === 'function') {
      return candidate as MongoClientClass;
    }
  }
  return undefined;
}
