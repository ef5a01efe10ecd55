import { createdByLibrary } from './created-by.ts';
import { heldByGlobal } from './global-cache.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the Sequelize 6 internals we read.
interface PoolLike {
  using: number;
  waiting: number;
  _draining?: boolean;
}
interface SequelizeLike {
  connectionManager?: { pool?: PoolLike | { read?: PoolLike; write?: PoolLike } };
  close(): Promise<void>;
}
interface Hooked {
  options?: { hooks?: Record<string, unknown[] | undefined> };
}
type AddHook = (this: Hooked, type: string, name?: unknown, fn?: unknown) => unknown;
interface SequelizeClass {
  prototype: { addHook: AddHook };
  addHook: AddHook;
  runHooks(this: unknown, type: unknown, ...args: unknown[]): unknown;
  Model?: { addHook: AddHook };
}

/**
 * Sequelize 6:
 * - **Hooks** a file adds (`sequelize.addHook(...)`, `Model.addHook(...)`, `Sequelize.addHook(...)`
 *   and their shorthands such as `sequelize.beforeCreate(...)`) are removed from
 *   `options.hooks[type]` before it evaluates again: one hook, not one per reload.
 * - **`new Sequelize()`** at a file's top level: the previous instance is closed once its pool has
 *   no connection in use and no caller waiting (a transaction holds its connection), unless a
 *   global took it back. Instances a library creates are left to it.
 * Not done here: associations re-pointed to a re-evaluated model class, models removed from a
 * file leaving `sequelize.models`.
 */
export function sequelizeAdapter(): Adapter {
  const live = new Set<SequelizeLike>();
  const closed = new WeakSet<SequelizeLike>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  const instanceEntry = (sequelize: SequelizeLike): Entry => ({ container: live, value: sequelize, label: 'Sequelize', release: () => release(sequelize) });

  const release = (sequelize: SequelizeLike): 'closed' | 'reused' => {
    if (heldByGlobal(sequelize)) return 'reused';
    live.delete(sequelize);
    closed.add(sequelize);
    closeWhenQuiet(() => busy(sequelize), () => sequelize.close(), 'previous Sequelize instance', (message) => context?.log('warn', message));
    return 'closed';
  };

  /** `addHook` wrapped: each hook it appended is reported, in the array that holds it. */
  const reportingAddHook = (addHook: AddHook): AddHook =>
    function (this: Hooked, type, name, fn) {
      const hook = typeof name === 'function' ? name : fn;
      const result = addHook.call(this, type, name, fn);
      for (const hooks of Object.values(this?.options?.hooks ?? {})) {
        const last = hooks?.at(-1);
        if (last !== undefined && (last === hook || (last as { fn?: unknown }).fn === hook)) context?.register({ container: hooks!, value: last });
      }
      return result;
    };

  return {
    name: 'sequelize',
    packages: ['sequelize'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      context = adapterContext ?? context;
      const Sequelize = findSequelize(namespace);
      if (!Sequelize || patched.has(Sequelize)) return;
      patched.add(Sequelize);
      for (const owner of [Sequelize, Sequelize.prototype, Sequelize.Model].filter((o) => o && typeof o.addHook === 'function')) {
        restores.push(patchMethod(owner as { addHook: AddHook }, 'addHook', reportingAddHook));
      }
      // The constructor's last step is `Sequelize.runHooks('afterInit', this)`: a new instance.
      restores.push(
        patchMethod(Sequelize, 'runHooks', (runHooks) =>
          function (this: unknown, type: unknown, ...args: unknown[]) {
            const instance = args[0] as SequelizeLike | undefined;
            if (type === 'afterInit' && instance?.connectionManager && !live.has(instance) && !createdByLibrary(['sequelize'])) {
              live.add(instance);
              context?.register(instanceEntry(instance));
            }
            return runHooks.call(this, type, ...args);
          },
        ),
        () => patched.delete(Sequelize),
      );
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const sequelize of live) {
        if (closed.has(sequelize)) continue;
        out.push(instanceEntry(sequelize));
      }
      return out;
    },
  };
}

/** Connections in use or awaited, in the one pool or the read and write pools (replication). */
function busy(sequelize: SequelizeLike): boolean {
  const pool = sequelize.connectionManager?.pool;
  if (!pool) return false;
  const pools = 'using' in pool ? [pool as PoolLike] : [(pool as { read?: PoolLike }).read, (pool as { write?: PoolLike }).write];
  return pools.some((p) => !!p && p.using + p.waiting > 0);
}

/** `Sequelize` from `import { Sequelize } from 'sequelize'`, its default export or `require('sequelize')`. */
function findSequelize(namespace: unknown): SequelizeClass | undefined {
  const ns = namespace as { Sequelize?: unknown; default?: unknown } | undefined;
  for (const candidate of [ns?.Sequelize, ns?.default, (ns?.default as { Sequelize?: unknown } | undefined)?.Sequelize, ns]) {
    const found = candidate as { runHooks?: unknown; prototype?: { addHook?: unknown } } | undefined;
    if (typeof candidate === 'function' && typeof found?.runHooks === 'function' && typeof found.prototype?.addHook === 'function') return candidate as unknown as SequelizeClass;
  }
  return undefined;
}
