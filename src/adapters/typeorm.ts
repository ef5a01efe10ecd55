import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';
import { DataSources, type DataSourceLike, type StorageLike } from './typeorm-data-source.ts';

/** TypeORM's global registry: one array of decorator args per kind (tables, columns, relations, ...). */
type Storage = StorageLike & Record<string, unknown>;

/**
 * TypeORM: every entry of the global `MetadataArgsStorage` (what `@Entity`, `@Column`, `@ManyToOne`,
 * `@Index`, `@EventSubscriber`... register, each kind in its own array), so a file's decorators are
 * purged before it evaluates again; the DataSources the app initializes, so one made at module
 * scope is closed when its file makes a new one; and, after a commit that replaced entity
 * classes, every live DataSource is pointed at the new classes (metadata rebuilt, schema
 * synchronized when `synchronize` is on).
 */
export function typeormAdapter(): Adapter {
  const sources = new DataSources();
  // DataSource classes seen, weakly: a TypeORM the bundler evaluates itself is new on each full reload.
  const classes = new Set<WeakRef<object>>();
  const seen = new WeakSet<object>();
  // The storage's array-valued fields, listed once per storage (TypeORM 1.1 has 21; 0.3 also `relationCounts`).
  const kinds = new WeakMap<object, string[]>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;
  sources.onOwned = (ref) => context?.register(dataSourceEntry(sources, ref));

  /** Every decorator pushes its args onto one of the storage's arrays: each array's own `push` reports them. */
  const hookStorage = (storage: Storage) => {
    if (kinds.has(storage)) return;
    const names = Object.keys(storage).filter((key) => Array.isArray(storage[key]));
    kinds.set(storage, names);
    for (const kind of names) {
      const list = storage[kind] as { target?: unknown }[];
      restores.push(
        patchMethod(list, 'push', (push) =>
          function (this: { target?: unknown }[], ...items: { target?: unknown }[]) {
            const length = push.apply(this, items);
            for (const args of items) context?.register(storageEntry(list, kind, args));
            return length;
          },
        ),
      );
    }
  };

  return {
    name: 'typeorm',
    packages: ['typeorm'],
    reports: true,

    attach(namespace, _specifier, attachContext) {
      if (attachContext) {
        context ??= attachContext;
        sources.warn = (message) => attachContext.log('warn', message);
      }
      // The storage exists once TypeORM's first decorator ran: make it now, so the first ones are seen too.
      const storage = currentStorage() ?? (findStorageGetter(namespace)?.(), currentStorage());
      if (storage) hookStorage(storage);
      const DataSource = findDataSource(namespace);
      if (!DataSource || seen.has(DataSource)) return;
      seen.add(DataSource);
      classes.add(new WeakRef(DataSource));
      sources.patch(DataSource);
    },

    attached: () => [...classes].some((ref) => ref.deref() !== undefined),

    detach() {
      for (const restore of restores.splice(0)) restore();
      sources.onOwned = undefined;
    },

    // Read once per reload batch, by the sweep: what no hook reported.
    entries() {
      const out: Entry[] = [];
      const storage = currentStorage();
      if (storage) {
        let names = kinds.get(storage);
        if (!names) kinds.set(storage, (names = Object.keys(storage).filter((key) => Array.isArray(storage[key]))));
        for (const kind of names) {
          const list = storage[kind] as { target?: unknown }[];
          for (const args of list) out.push(storageEntry(list, kind, args));
        }
      }
      for (const ref of sources.owned) out.push(dataSourceEntry(sources, ref));
      return out;
    },

    // New entity classes: live DataSources that list the previous ones switch to them.
    committed(entries) {
      if (entries.length === 0) return;
      const storage = currentStorage();
      if (!storage) return;
      const successors = new Map<string, unknown>();
      for (const { container, value } of entries) {
        const target = (value as { target?: unknown }).target;
        if (typeof target === 'function' && (container === storage.tables || container === storage.entitySubscribers)) successors.set(target.name, target);
      }
      if (successors.size > 0) sources.replaceEntities(successors, storage);
    },
  };
}

/** A decorator's args; an entity's (`tables`) is named for its class, whose generations are counted. */
function storageEntry(list: unknown[], kind: string, args: { target?: unknown }): Entry {
  if (kind !== 'tables') return { container: list, value: args };
  const target = args.target;
  const isClass = typeof target === 'function';
  return { container: list, value: args, label: isClass ? target.name : String(target), track: true, trackedValue: isClass ? target : undefined };
}

/** `getMetadataArgsStorage` behind an import. */
function findStorageGetter(namespace: unknown): (() => unknown) | undefined {
  const ns = namespace as { getMetadataArgsStorage?: unknown; default?: { getMetadataArgsStorage?: unknown } } | undefined;
  const getter = ns?.getMetadataArgsStorage ?? ns?.default?.getMetadataArgsStorage;
  return typeof getter === 'function' ? (getter as () => unknown) : undefined;
}

function dataSourceEntry(sources: DataSources, ref: WeakRef<DataSourceLike>): Entry {
  return {
    container: sources.owned,
    value: ref,
    label: 'DataSource',
    remove: () => sources.removed(ref),
    release: () => sources.release(ref),
  };
}

/** Where `getMetadataArgsStorage()` keeps it; absent until TypeORM's first decorator runs. */
function currentStorage(): Storage | undefined {
  const storage = (globalThis as { typeormMetadataArgsStorage?: Storage }).typeormMetadataArgsStorage;
  return storage && Array.isArray(storage.tables) ? storage : undefined;
}

/** The DataSource class behind an import (ESM namespace, or CommonJS exports through a bundler's interop). */
function findDataSource(namespace: unknown): object | undefined {
  const ns = namespace as { DataSource?: unknown; default?: { DataSource?: unknown } } | undefined;
  const found = [ns?.DataSource, ns?.default?.DataSource].find(
    (value) => typeof value === 'function' && typeof (value as { prototype?: { initialize?: unknown } }).prototype?.initialize === 'function',
  );
  return found as object | undefined;
}
