import { describe } from '../util/errors.ts';
import { builtinPackages } from './builtin.ts';
import { patchMethod } from '../util/patch.ts';
import { heldByGlobal, type Aliases } from './global-cache.ts';
import { tarnBusy, type TarnPool } from './knex.ts';
import { poolBusy } from './pg.ts';
import { closeWhenQuiet } from './quiet-close.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the MikroORM 6 and 7 internals we read or call.
type Meta = { className?: string; class?: unknown; embeddable?: boolean; prototype?: object };
type GetMetadata = (this: unknown, entity?: string, path?: string, target?: unknown) => unknown;
interface MetadataStorageClass {
  getMetadata: GetMetadata;
  /** MikroORM 6: what every decorator calls; 7 moved it to `@mikro-orm/decorators`, which passes the class to `getMetadata`. */
  getMetadataFromDecorator?: (this: unknown, target: unknown) => unknown;
}
interface StorageLike {
  getAll(): Record<string, Meta> | Map<unknown, Meta>;
  get(key: unknown): Meta | undefined;
  set(key: unknown, meta: Meta): void;
  reset(name: string): void;
  decorate(em: unknown): void;
}
interface OrmLike {
  close(force?: boolean): Promise<void>;
  driver: { getPlatform(): unknown; getConnection?(): { getKnex?(): { client?: { pool?: TarnPool } } } };
  config: { get(key: 'entities'): unknown; getComparator?(metadata: unknown): unknown; getHydrator?(metadata: unknown): unknown; resetServiceCache?(): void };
  em: unknown;
  getMetadata(): StorageLike;
  createEntityManager?(): void;
}
type Discovery = new (
  metadata: unknown,
  platform: unknown,
  config: unknown,
) => { discoverReferences(entities: unknown[]): unknown[]; processDiscoveredEntities(discovered: unknown[]): (Meta & { root: Meta })[] };
interface Core {
  MetadataStorage: MetadataStorageClass;
  MetadataDiscovery?: Discovery;
  MikroORM?: { prototype: { createEntityManager?: unknown } };
  EntitySchema?: { REGISTRY?: Map<unknown, unknown> };
}

/** The packages whose import marks a module as using MikroORM: core, its drivers (which re-export core) and 7's decorators. */
const PACKAGES = builtinPackages('mikro-orm');

/**
 * MikroORM 6 (and 7):
 * - **Decorator metadata**: every entity's entry in the global `MetadataStorage`
 *   (`globalThis['mikro-orm-metadata']`, keyed `${className}-${hash(path)}`; under Vite the path is
 *   not found, so the key is the class name and decorators would modify the previous entry: a
 *   renamed property stayed, required, and inserts failed). The file's entries are removed before
 *   it evaluates again, so its decorators start from nothing.
 * - **`EntitySchema.REGISTRY`**: the schema made for a class (`new EntitySchema({ class: User })`),
 *   a Map that would keep every previous class.
 * - **Live `MikroORM` instances** (noted as each builds its entity manager, weakly): after a file
 *   committed new entity classes, each instance whose metadata names one of them rediscovers all
 *   its entities (MikroORM's own discovery) and takes the result in place, so `orm.em` and its
 *   forks use the new classes and properties; its compiled comparators and hydrators are cleared.
 */
export function mikroOrmAdapter(): Adapter {
  const orms = new Set<WeakRef<OrmLike>>();
  const seenOrms = new WeakSet<OrmLike>();
  // Each MikroORM copy's discovery class, by its MetadataStorage class (the one an ORM's metadata is an instance of).
  const discoveries = new WeakMap<object, Discovery>();
  let patched = new WeakSet<object>();
  // Entity metadata already reported (discovery calls `getMetadata` again for each one).
  const reported = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let storage: Record<string, unknown> | undefined;
  let context: AdapterContext | undefined;
  // A rediscovery can fail while the batch is half evaluated (a relation names a class whose file
  // comes next): warn only if no later one succeeded within a second.
  const warnings = new WeakMap<OrmLike, ReturnType<typeof setTimeout>>();
  const stale = (orm: OrmLike, error: unknown) => {
    clearTimeout(warnings.get(orm));
    if (error === undefined) return void warnings.delete(orm);
    const timer = setTimeout(() => context?.log('warn', `mikro-orm: rediscovering entities after an edit failed, the previous metadata stays: ${describe(error)}`), 1_000);
    timer.unref?.();
    warnings.set(orm, timer);
  };

  // The instances files made, until their file's next evaluation releases them.
  const live = new Set<OrmLike>();
  // `MikroORM.init()`'s promise stands for its ORM: `globalThis.orm ??= MikroORM.init()` takes it back.
  const aliases: Aliases = new WeakMap();
  const aliasInit = (MikroORM: unknown) => {
    if (typeof MikroORM !== 'function' || !Object.hasOwn(MikroORM, 'init') || patched.has(MikroORM)) return;
    patched.add(MikroORM);
    restores.push(
      patchMethod(MikroORM as unknown as { init: (...args: unknown[]) => unknown }, 'init', (init) =>
        function (this: unknown, ...args: unknown[]) {
          const promise = init.apply(this, args);
          if (promise instanceof Promise) promise.then((orm) => typeof orm === 'object' && orm && aliases.set(promise, orm), () => {});
          return promise;
        },
      ),
    );
  };
  // 7's PostgreSQL driver pools through pg under Kysely, in a private field: its own
  // `onPoolCreated` option hands the pool to us, by connection.
  const pgPools = new WeakMap<object, PgPool>();
  const hookPostgres = (namespace: unknown) => {
    const proto = (namespace as { PostgreSqlConnection?: { prototype?: { createKyselyDialect?: unknown } } } | undefined)?.PostgreSqlConnection?.prototype;
    if (typeof proto?.createKyselyDialect !== 'function' || patched.has(proto)) return;
    patched.add(proto);
    restores.push(
      patchMethod(proto as { createKyselyDialect: (this: object, overrides?: PoolOverrides) => unknown }, 'createKyselyDialect', (create) =>
        function (this: object, overrides?: PoolOverrides) {
          const connection = this;
          const onPoolCreated = (pool: PgPool) => {
            pgPools.set(connection, pool);
            return overrides?.onPoolCreated?.(pool);
          };
          return create.call(this, { ...overrides, onPoolCreated });
        },
      ),
    );
  };
  const release = (orm: OrmLike): 'closed' | 'reused' | undefined => {
    if (heldByGlobal(orm, aliases)) return 'reused';
    live.delete(orm);
    // Closed only where its pool says when it is idle (6's knex, 7's pg): a query in flight on it must finish.
    const connection = connectionOf(orm);
    const tarn = connection?.getKnex?.()?.client?.pool;
    const pg = connection && pgPools.get(connection);
    if (!tarn && !pg) return undefined;
    const busy = tarn ? () => tarnBusy(tarn) : () => poolBusy(pg!);
    closeWhenQuiet(busy, () => orm.close(), 'MikroORM', (message) => context?.log('warn', `mikro-orm: ${message}`));
    return 'closed';
  };

  const hookCore = (core: Core) => {
    const Storage = core.MetadataStorage;
    if (core.MetadataDiscovery) discoveries.set(Storage, core.MetadataDiscovery);
    if (patched.has(Storage)) return;
    patched.add(Storage);
    let decorated: unknown;
    if (typeof Storage.getMetadataFromDecorator === 'function') {
      restores.push(
        patchMethod(Storage as Required<MetadataStorageClass>, 'getMetadataFromDecorator', (fromDecorator) =>
          function (this: unknown, target: unknown) {
            const outer = decorated;
            decorated = target;
            try {
              return fromDecorator.call(this, target);
            } finally {
              decorated = outer;
            }
          },
        ),
      );
    }
    restores.push(
      patchMethod(Storage, 'getMetadata', (getMetadata) =>
        function (this: unknown, entity, path, target) {
          const meta = getMetadata.call(this, entity, path, target);
          if (entity && path && meta && typeof meta === 'object' && !reported.has(meta)) {
            reported.add(meta);
            storage ??= getMetadata.call(this) as Record<string, unknown>;
            const key = Object.keys(storage).find((k) => storage![k] === meta);
            const cls = target ?? decorated;
            if (key !== undefined) context?.register(metadataEntry(storage, key, meta as Meta, cls));
          }
          return meta;
        },
      ),
    );
    const registry = core.EntitySchema?.REGISTRY;
    if (registry instanceof Map && !patched.has(registry)) {
      patched.add(registry);
      restores.push(
        patchMethod(registry, 'set', (set) =>
          function (this: Map<unknown, unknown>, cls: unknown, schema: unknown) {
            const fresh = this.get(cls) !== schema;
            const result = set.call(this, cls, schema);
            if (fresh && typeof cls === 'function') context?.register(schemaEntry(this, cls, schema));
            return result;
          },
        ),
      );
    }
    const proto = rootPrototype(core.MikroORM);
    if (proto && !patched.has(proto)) {
      patched.add(proto);
      // Both `init()` and `initSync()` (6 and 7) end by building the entity manager.
      restores.push(
        patchMethod(proto as { createEntityManager: (this: OrmLike) => unknown }, 'createEntityManager', (create) =>
          function (this: OrmLike) {
            if (!seenOrms.has(this)) {
              seenOrms.add(this);
              orms.add(new WeakRef(this));
              // Made by a file (at its top level): closed once idle when that file makes another.
              context?.register({ container: live, value: this, label: 'MikroORM', release: () => release(this) });
            }
            return create.call(this);
          },
        ),
      );
    }
  };

  return {
    name: 'mikro-orm',
    packages: PACKAGES,
    reports: true,

    attach(namespace, _specifier, attachContext) {
      context ??= attachContext;
      // 7's decorators package does not re-export core: take core from the module's own folder.
      const core = findCore(namespace) ?? findCore(attachContext?.require?.('@mikro-orm/core'));
      if (core) hookCore(core);
      hookPostgres(namespace);
      for (const MikroORM of [core?.MikroORM, (namespace as { MikroORM?: unknown } | undefined)?.MikroORM]) aliasInit(MikroORM);
    },

    attached: () => restores.length > 0,

    detach() {
      for (const restore of restores.splice(0)) restore();
      patched = new WeakSet();
    },

    // Read once per reload batch, by the sweep.
    entries() {
      const out: Entry[] = [];
      const all = storage ?? (globalThis as Record<string, unknown>)['mikro-orm-metadata'];
      if (all && typeof all === 'object') {
        for (const [key, meta] of Object.entries(all as Record<string, Meta>)) out.push(metadataEntry(all as Record<string, unknown>, key, meta, meta?.class));
      }
      return out;
    },

    // New entity classes: live instances that know an entity of that name rediscover theirs.
    committed(entries) {
      const successors = new Map<string, unknown>();
      for (const { value } of entries) {
        // Global metadata, or an EntitySchema (its `meta`) from the registry.
        const meta = ((value as { meta?: Meta }).meta ?? value) as Meta;
        if (typeof meta?.class === 'function' && meta.className) successors.set(meta.className, meta.class);
      }
      if (successors.size === 0) return;
      for (const ref of orms) {
        const orm = ref.deref();
        if (!orm) orms.delete(ref);
        else refresh(orm, successors, discoveries.get(orm.getMetadata().constructor), stale);
      }
    },
  };
}

type PgPool = Parameters<typeof poolBusy>[0];
type PoolOverrides = { onPoolCreated?: (pool: PgPool) => unknown };
type ConnectionLike = NonNullable<ReturnType<NonNullable<OrmLike['driver']['getConnection']>>>;

/** The ORM's connection: 6's SQL drivers pool through knex's tarn pool on it, 7's PostgreSQL through pg (see hookPostgres). */
function connectionOf(orm: OrmLike): ConnectionLike | undefined {
  try {
    return orm.driver.getConnection?.();
  } catch {
    return undefined;
  }
}


/** An entity's global metadata; its class's generations are counted once the class decorator ran. */
function metadataEntry(storage: Record<string, unknown>, key: string, meta: Meta, cls: unknown): Entry {
  const label = meta?.className ?? key;
  return typeof cls === 'function' ? { container: storage, key, value: meta, label, track: true, trackedValue: cls } : { container: storage, key, value: meta, label };
}

/** A class's schema in `EntitySchema.REGISTRY` (a Map keyed by class): removed only while it still maps to this schema. */
function schemaEntry(registry: Map<unknown, unknown>, cls: { name: string }, schema: unknown): Entry {
  return {
    container: registry,
    value: schema,
    label: cls.name,
    track: true,
    trackedValue: cls,
    remove: () => {
      if (registry.get(cls) !== schema) return () => {};
      registry.delete(cls);
      return () => {
        if (!registry.has(cls)) registry.set(cls, schema);
      };
    },
  };
}

/**
 * Rediscovers every entity `orm` knows, with the successor class of each name that has one, in a
 * discovery of its own (MikroORM's `orm.discoverEntity()` resets the ORM's metadata before it
 * validates, and leaves it half empty when that throws). Only a complete result replaces the
 * entries of the ORM's own `MetadataStorage` (the one `orm.em`, its forks and its driver read). A
 * failure (another file of the batch not evaluated yet: MikroORM 7 then sees the old class and the
 * new one for one table) keeps the previous metadata; `done` hears of it.
 */
function refresh(orm: OrmLike, successors: Map<string, unknown>, Discovery: Discovery | undefined, done: (orm: OrmLike, error?: unknown) => void): void {
  const metadata = orm.getMetadata();
  const all = metadata.getAll();
  const byClass = all instanceof Map; // 7 keys the ORM's metadata by class, 6 by class name
  const metas = [...(byClass ? all.values() : Object.values(all))];
  if (!Discovery || !metas.some((meta) => meta.className && successors.has(meta.className) && successors.get(meta.className) !== meta.class)) return;
  // The \`entities\` option first gets the successor of each name it lists (a class, or the class a
  // schema was defined for): it names the entities a class-less schema stands for.
  const listed = orm.config.get('entities');
  const byName = new Map<string, unknown>();
  if (Array.isArray(listed)) {
    for (let i = 0; i < listed.length; i++) {
      const item: unknown = listed[i];
      const name = typeof item === 'function' ? item.name : (item as { meta?: Meta } | null)?.meta?.className;
      if (!name) continue;
      if (successors.has(name)) listed[i] = successors.get(name);
      byName.set(name, listed[i]);
    }
  }
  const entities = metas.map((meta) => byName.get(meta.className!) ?? successors.get(meta.className!) ?? meta.class).filter(Boolean);
  let fresh: (Meta & { root: Meta })[];
  let discovery: InstanceType<Discovery>;
  try {
    discovery = new Discovery(new (metadata.constructor as new () => StorageLike)(), orm.driver.getPlatform(), orm.config);
    fresh = discovery.processDiscoveredEntities(discovery.discoverReferences(entities));
  } catch (error) {
    return done(orm, error);
  }
  for (const meta of metas) if (meta.className) metadata.reset(meta.className);
  const keyOf = (meta: Meta) => (byClass ? meta.class : meta.className);
  for (const meta of fresh) metadata.set(keyOf(meta), meta);
  for (const meta of fresh) meta.root = metadata.get(keyOf(meta.root)) ?? meta.root;
  for (const meta of fresh) undecorate(meta.prototype);
  // MikroORM 6's own discovery (a public field; 7's is private) lists the classes it found first:
  // it would keep that generation alive. Ours lists the current ones.
  if (Object.hasOwn(orm, 'discovery')) (orm as { discovery?: unknown }).discovery = discovery;
  // Snapshot generators, comparators and hydrators are compiled per entity and cached: by name in
  // 6, cleared in place (the entity managers hold them); by class in 7, in private fields, which
  // would keep every generation: new services, and a new global entity manager that uses them
  // (MikroORM's own \`createEntityManager\`, which decorates the classes as \`init()\` does).
  for (const service of [orm.config.getComparator?.(metadata), orm.config.getHydrator?.(metadata)]) clearCompiled(service);
  orm.config.resetServiceCache?.();
  if (byClass && typeof orm.createEntityManager === 'function') orm.createEntityManager();
  else metadata.decorate(orm.em);
  done(orm);
}

/**
 * MikroORM's `EntityHelper.decorate` defines a prototype's `toJSON` and custom inspect only when
 * absent, each closing over the metadata of that time. A rediscovery made while the batch was half
 * evaluated ties a new class, through those closures and that metadata's relations, to the
 * previous classes, and them to theirs: every generation would stay alive as long as one entity
 * is. Before decorating again, those two go from a class we first saw undecorated, unless it
 * defined them itself.
 */
const DEFINED_ONCE = ['toJSON', Symbol.for('nodejs.util.inspect.custom')];
const ownMembers = new WeakMap<object, PropertyKey[] | null>();
function undecorate(prototype: object | undefined): void {
  if (!prototype) return;
  if (!ownMembers.has(prototype)) {
    // Already decorated when first seen (discovered by MikroORM.init itself): not ours to judge.
    const decorated = Object.hasOwn(prototype, '__meta');
    ownMembers.set(prototype, decorated ? null : DEFINED_ONCE.filter((key) => Object.hasOwn(prototype, key)));
    return;
  }
  const own = ownMembers.get(prototype);
  if (own) for (const key of DEFINED_ONCE) if (!own.includes(key)) delete (prototype as Record<PropertyKey, unknown>)[key];
}

/** Clears a service's Map-valued fields, and Maps one level down (`ObjectHydrator#hydrators`). */
function clearCompiled(service: unknown): void {
  if (!service || typeof service !== 'object') return;
  for (const value of Object.values(service)) {
    if (value instanceof Map) value.clear();
    else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const inner of Object.values(value)) if (inner instanceof Map) inner.clear();
    }
  }
}

/** `MetadataStorage` (and `MikroORM`, `EntitySchema`) behind an import of core or a driver. */
function findCore(namespace: unknown): Core | undefined {
  const ns = namespace as (Partial<Core> & { default?: Partial<Core> }) | undefined;
  for (const candidate of [ns, ns?.default]) {
    if (typeof candidate?.MetadataStorage?.getMetadata === 'function') return candidate as Core;
  }
  return undefined;
}

/** The prototype that defines `createEntityManager`: core's, below a driver's `MikroORM` subclass. */
function rootPrototype(MikroORM: Core['MikroORM']): object | undefined {
  let proto = MikroORM?.prototype as object | null | undefined;
  while (proto && !Object.hasOwn(proto, 'createEntityManager')) proto = Object.getPrototypeOf(proto);
  return proto ?? undefined;
}
