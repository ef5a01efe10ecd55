import { createdByLibrary } from './created-by.ts';
import { heldByGlobal } from './global-cache.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import { patchMethod } from '../util/patch.ts';
import { SequelizeModels, type ModelLike, type ModelsOwner } from './sequelize-models.ts';
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
type RunHooks = (this: unknown, type: unknown, ...args: unknown[]) => unknown;
type Query = (this: SequelizeLike, ...args: unknown[]) => Promise<unknown>;
type Associate = (this: ModelLike, target: unknown, options?: unknown) => unknown;
interface SequelizeClass {
  prototype: { addHook: AddHook; runHooks: RunHooks; _setupHooks?: (this: unknown, hooks: unknown) => unknown; query: Query };
  addHook: AddHook;
  runHooks: RunHooks;
  Model?: { addHook: AddHook } & Record<(typeof ASSOCIATE)[number], Associate>;
}

/** The four calls that make an association; each stores it in `source.associations`. */
const ASSOCIATE = ['hasOne', 'belongsTo', 'hasMany', 'belongsToMany'] as const;

/**
 * Sequelize 6:
 * - **Hooks** a file adds (`sequelize.addHook(...)`, `Model.addHook(...)`, `Sequelize.addHook(...)`
 *   and their shorthands such as `sequelize.beforeCreate(...)`) are removed from
 *   `options.hooks[type]` before it evaluates again: one hook, not one per reload. The `hooks`
 *   option of `new Sequelize()` stays with its instance.
 * - **`new Sequelize()`** at a file's top level: the previous instance is closed once it has no
 *   query in flight and its pool no connection in use and no caller waiting, unless a
 *   global took it back. Instances a library creates are left to it.
 * - **Models** (`sequelize.define()`, `Model.init()`, seen by their `afterDefine` hook) and
 *   **associations** a file makes are removed before it evaluates again: a model it no longer
 *   defines leaves `sequelize.models` (and `sync()`), an association is made once, not twice
 *   (no "You have used the alias ... in two separate associations").
 * - **Associations other files made** with a model its file defined again move to the new class
 *   (see {@link SequelizeModels.defined}), so `include` keeps working from files not re-evaluated.
 */
export function sequelizeAdapter(): Adapter {
  const live = new Set<SequelizeLike>();
  const closed = new WeakSet<SequelizeLike>();
  const patched = new WeakSet<object>();
  const restores: (() => void)[] = [];
  const models = new SequelizeModels();
  let context: AdapterContext | undefined;
  /** Inside a constructor's `hooks` option: those hooks are the instance's own, made and dropped with it. */
  let constructing = 0;
  /** Queries in flight per instance, from the call on: before its pool sees them (see {@link busy}). */
  const queries = new WeakMap<SequelizeLike, number>();

  const instanceEntry = (sequelize: SequelizeLike): Entry => ({ container: live, value: sequelize, label: 'Sequelize', release: () => release(sequelize) });

  const release = (sequelize: SequelizeLike): 'closed' | 'reused' => {
    if (heldByGlobal(sequelize)) return 'reused';
    live.delete(sequelize);
    closed.add(sequelize);
    closeWhenQuiet(() => (queries.get(sequelize) ?? 0) > 0 || busy(sequelize), () => sequelize.close(), 'previous Sequelize instance', (message) => context?.log('warn', message));
    return 'closed';
  };

  /** `addHook` wrapped: each hook it appended is reported, in the array that holds it. */
  const reportingAddHook = (addHook: AddHook): AddHook =>
    function (this: Hooked, type, name, fn) {
      const hook = typeof name === 'function' ? name : fn;
      const result = addHook.call(this, type, name, fn);
      if (constructing > 0) return result;
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
      // `new Sequelize(url, { hooks })` adds those through `addHook` too. Not reported: an instance
      // a global keeps is not constructed again, so removing them would lose them for good.
      restores.push(
        patchMethod(Sequelize.prototype as { _setupHooks: (this: unknown, hooks: unknown) => unknown }, '_setupHooks', (setupHooks) =>
          function (this: unknown, hooks: unknown) {
            constructing++;
            try {
              return setupHooks.call(this, hooks);
            } finally {
              constructing--;
            }
          },
        ),
      );
      // A query reaches the pool only after awaits of its own (hooks, and an instance's first query
      // reads the server version on a connection outside the pool): counted from the call.
      restores.push(
        patchMethod(Sequelize.prototype, 'query', (query) =>
          function (this: SequelizeLike, ...args: unknown[]) {
            queries.set(this, (queries.get(this) ?? 0) + 1);
            const done = () => void queries.set(this, queries.get(this)! - 1);
            const result = query.apply(this, args);
            result.then(done, done);
            return result;
          },
        ),
      );
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
        patchMethod(Sequelize.prototype, 'runHooks', (runHooks) =>
          function (this: unknown, type: unknown, ...args: unknown[]) {
            // `Model.init()` ends with `sequelize.runHooks('afterDefine', model)`, after `addModel`.
            const model = args[0] as ModelLike | undefined;
            const sequelize = this as ModelsOwner;
            if (type === 'afterDefine' && model && sequelize?.models?.[model.name] === model) context?.register(models.modelEntry(sequelize, model));
            return runHooks.call(this, type, ...args);
          },
        ),
        ...ASSOCIATE.filter((method) => typeof Sequelize.Model?.[method] === 'function').map((method) =>
          patchMethod(Sequelize.Model!, method, (associate) =>
            function (this: ModelLike, target, options) {
              const association = associate.call(this, target, options) as Parameters<SequelizeModels['associationEntry']>[0] | undefined;
              if (association && this.associations?.[association.associationAccessor] === association) context?.register(models.associationEntry(association));
              return association;
            },
          ),
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

    committed(entries) {
      const defined = entries.map((entry) => entry.value as ModelLike).filter((model, i) => entries[i].container === model?.sequelize?.models);
      if (defined.length > 0) models.defined(defined);
    },
  };
}

/** Connections in use or awaited, in the one pool or the read and write pools (replication): a transaction holds its connection. */
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
