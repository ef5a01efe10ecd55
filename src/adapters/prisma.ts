import { hookAssignment } from './assignment-hook.ts';
import { dataValue, globalHolds } from './global-cache.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { builtin } from '../util/builtin.ts';
import { patchMethod, prepareSwap } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the Prisma 7 internals we read.
interface ClientLike {
  /** The options the engine was built with; `adapter` is the driver adapter factory passed to the constructor. */
  _engineConfig?: { adapter?: unknown };
  /** The proxy `new PrismaClient()` returned, which the app holds. */
  _appliedParent?: object;
  $disconnect(): Promise<void>;
}
// pg 8's public counters, on the pool @prisma/adapter-pg queries through.
interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ended?: boolean;
}
interface FactoryLike {
  provider?: unknown;
  connect(): Promise<{ underlyingDriver?(): unknown }>;
}
/** What one `new PrismaPg()` connected: the pools of its driver adapters, and connects under way. */
interface Usage {
  pools: Set<PoolLike>;
  connecting: number;
}

/**
 * Prisma 7 (`new PrismaClient({ adapter: new PrismaPg(...) })`): the clients a file creates at its
 * top level. When the file evaluates again, the previous client is `$disconnect()`ed once it is
 * idle (its driver adapter's pg pool has no connection checked out, which an interactive
 * transaction holds, and nobody waiting for one), unless a global took it back (Prisma's
 * `globalForPrisma.prisma ??= new PrismaClient(...)`). `$disconnect()` ends the pool the adapter
 * made; a pool the app made and passed in (`new PrismaPg(pool)`) is the app's, closed by the pg
 * adapter.
 *
 * Prisma's client class is made per generated client (`getPrismaClient(config)`, in the app's own
 * generated code), and its constructor only defines fields. What the app does hand it is the
 * driver adapter factory, whose class `@prisma/adapter-pg` exports: we see each factory made, and
 * the constructor reads the factory's `provider` first thing. From that read until the constructor
 * returns (the same synchronous job) `Object.getPrototypeOf` is wrapped: Prisma calls it on the new
 * client as its last step (building the proxy it returns), which is where we see the client.
 */
export function prismaAdapter(): Adapter {
  const live = new Set<ClientLike>();
  const usages = new WeakMap<object, Usage>();
  // Factories whose client is being constructed now.
  const constructing = new Set<object>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  const entry = (client: ClientLike): Entry => ({ container: live, value: client, label: 'PrismaClient', release: () => release(client) });

  const release = (client: ClientLike): 'closed' | 'reused' => {
    if (heldByGlobal(client)) return 'reused';
    live.delete(client);
    const usage = usages.get(client._engineConfig?.adapter as object);
    closeWhenQuiet(
      () => !!usage && (usage.connecting > 0 || [...usage.pools].some((pool) => !pool.ended && (pool.totalCount - pool.idleCount > 0 || pool.waitingCount > 0))),
      () => client.$disconnect(),
      'previous PrismaClient',
      (message) => context?.log('warn', message),
    );
    return 'closed';
  };

  // The client's last constructor step, `Object.getPrototypeOf(client)`, names the client.
  const getPrototypeOf = prepareSwap(Object, 'getPrototypeOf', (original) =>
    function (this: unknown, target: unknown) {
      const result = original.call(this, target);
      if (typeof target === 'object' && target !== null && !live.has(target as ClientLike)) {
        const factory = dataValue(dataValue(target, '_engineConfig'), 'adapter');
        if (typeof factory === 'object' && factory !== null && constructing.delete(factory)) {
          if (constructing.size === 0) getPrototypeOf.uninstall();
          live.add(target as ClientLike);
          context?.register(entry(target as ClientLike));
        }
      }
      return result;
    } as typeof Object.getPrototypeOf,
  );

  const constructingWith = (factory: object) => {
    constructing.add(factory);
    getPrototypeOf.install();
    // The constructor threw, or did not take this path: the window closes with the job.
    queueMicrotask(() => {
      constructing.delete(factory);
      if (constructing.size === 0) getPrototypeOf.uninstall();
    });
  };

  const seenFactory = (instance: object) => {
    const factory = instance as FactoryLike;
    usages.set(factory, { pools: new Set(), connecting: 0 });
    // `provider` is a class field, defined by now; PrismaClient's constructor reads it.
    let provider = factory.provider;
    Object.defineProperty(factory, 'provider', {
      configurable: true,
      enumerable: true,
      get() {
        constructingWith(factory);
        return provider;
      },
      set(value) {
        provider = value;
      },
    });
  };

  return {
    name: 'prisma',
    packages: ['@prisma/adapter-pg', '@prisma/client'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      const PrismaPg = findPrismaPg(namespace);
      if (!PrismaPg || patched.has(PrismaPg.prototype)) return;
      patched.add(PrismaPg.prototype);
      // The constructor's first assignment (`this.options = options`), after its class fields.
      restores.push(hookAssignment(PrismaPg.prototype, 'options', seenFactory));
      restores.push(
        patchMethod(PrismaPg.prototype as FactoryLike, 'connect', (connect) =>
          async function (this: FactoryLike) {
            const usage = usages.get(this);
            if (usage) usage.connecting++;
            try {
              const adapter = await connect.call(this);
              const pool = adapter?.underlyingDriver?.() as PoolLike | undefined;
              if (usage && pool && typeof pool.totalCount === 'number') usage.pools.add(pool);
              return adapter;
            } finally {
              if (usage) usage.connecting--;
            }
          },
        ),
        () => patched.delete(PrismaPg.prototype),
      );
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
      getPrototypeOf.uninstall();
    },

    entries() {
      return [...live].map(entry);
    },
  };
}

/**
 * Whether a global holds the client: the proxy `new PrismaClient()` returned, the instance behind
 * it, or a `$extends()` proxy over it (Prisma's proxies answer `_originalClient`; only proxies are
 * asked, and a throwing trap counts as no).
 */
function heldByGlobal(client: ClientLike): boolean {
  const proxy = dataValue(client, '_appliedParent');
  const isProxy = builtin<typeof import('node:util')>('node:util')?.types.isProxy;
  return globalHolds((candidate) => {
    if (candidate === client || (proxy !== undefined && candidate === proxy)) return true;
    if (!isProxy?.(candidate)) return false;
    try {
      return (candidate as { _originalClient?: unknown })._originalClient === client;
    } catch {
      return false;
    }
  });
}

/** `PrismaPg` from `import { PrismaPg } from '@prisma/adapter-pg'` or `require('@prisma/adapter-pg')`. */
function findPrismaPg(namespace: unknown): { prototype: object } | undefined {
  const ns = namespace as { PrismaPg?: unknown; default?: { PrismaPg?: unknown } } | undefined;
  for (const candidate of [ns?.PrismaPg, ns?.default?.PrismaPg]) {
    if (typeof candidate === 'function' && typeof (candidate.prototype as FactoryLike).connect === 'function') return candidate as { prototype: object };
  }
  return undefined;
}
