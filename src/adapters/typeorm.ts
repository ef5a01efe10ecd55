import type { Adapter, Entry } from './types.ts';
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

  return {
    name: 'typeorm',
    packages: ['typeorm'],

    attach(namespace, _specifier, context) {
      if (context) sources.warn = (message) => context.log('warn', message);
      const DataSource = findDataSource(namespace);
      if (!DataSource || seen.has(DataSource)) return;
      seen.add(DataSource);
      classes.add(new WeakRef(DataSource));
      sources.patch(DataSource);
    },

    attached: () => [...classes].some((ref) => ref.deref() !== undefined),

    // Plain loops into one array: this runs twice per tracked evaluation, over every decorator.
    entries() {
      const out: Entry[] = [];
      const storage = currentStorage();
      if (storage) {
        let names = kinds.get(storage);
        if (!names) kinds.set(storage, (names = Object.keys(storage).filter((key) => Array.isArray(storage[key]))));
        for (const kind of names) {
          const list = storage[kind] as { target?: unknown }[];
          if (kind === 'tables') {
            for (const args of list) {
              const target = args.target;
              const isClass = typeof target === 'function';
              out.push({ container: list, value: args, label: isClass ? target.name : String(target), track: true, trackedValue: isClass ? target : undefined });
            }
          } else {
            for (const args of list) out.push({ container: list, value: args });
          }
        }
      }
      for (const ref of sources.owned) out.push(dataSourceEntry(sources, ref));
      return out;
    },

    // New entity classes: live DataSources that list the previous ones switch to them.
    committed(entries) {
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
