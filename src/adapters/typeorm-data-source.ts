import type { AsyncLocalStorage } from 'node:async_hooks';
import { builtin } from '../util/builtin.ts';
import { describe } from '../util/errors.ts';

// Only the shapes we read or call. TypeORM's own types would tie us to one major version.
export interface DataSourceLike {
  options: { entities?: unknown; subscribers?: unknown; synchronize?: boolean; type?: string };
  isInitialized: boolean;
  driver: { createQueryRunner(mode?: string): QueryRunnerLike };
  manager: ManagerLike;
  entityMetadatas: MetadataLike[];
  entityMetadatasMap: Map<unknown, MetadataLike>;
  subscribers: unknown[];
  initialize(): Promise<unknown>;
  buildMetadatas(): Promise<void>;
  synchronize(): Promise<void>;
  destroy(): Promise<void>;
}
interface ManagerLike {
  repositories?: Map<unknown, unknown>;
  treeRepositories?: { target?: unknown }[];
}
interface MetadataLike {
  target: unknown;
  tableType?: string;
}
interface QueryRunnerLike {
  query(...args: unknown[]): Promise<unknown>;
  isTransactionActive?: boolean;
  isReleased?: boolean;
}
/** What the synchronous metadata rebuild needs from the very TypeORM copy the DataSource comes from. */
interface Builders {
  EntityMetadataBuilder: new (dataSource: unknown, storage: unknown) => { build(classes?: unknown[]): MetadataLike[] };
  EntityMetadataValidator: new () => { validateMany(metadatas: MetadataLike[], driver: unknown): void };
  EntitySchemaTransformer: new () => { transform(schemas: unknown[]): unknown };
  isEntitySchema(value: unknown): boolean;
}
export interface StorageLike {
  tables: { target: unknown }[];
  entitySubscribers?: { target: unknown }[];
  filterSubscribers(classes: unknown[]): { target: new () => unknown }[];
}

/** What we know about one DataSource. */
export interface Tracked {
  readonly ref: WeakRef<DataSourceLike>;
  /** Clock value of its `initialize()` call. */
  initializedAt: number;
  /** Clock value of its removal from its file's generation, while removed. */
  removedAt?: number;
  /** Queries running now. */
  active: number;
  /** Called when `active` drops to 0. */
  onIdle: Set<() => void>;
  /** Query runners it created (pooled drivers make many), to see open transactions. */
  runners: Set<WeakRef<QueryRunnerLike>>;
  /** Runners that were in a transaction when the refresh began: never held (that could deadlock). */
  exempt: WeakSet<QueryRunnerLike>;
  /** The pending schema refresh; queries outside it wait for it. Never rejects. */
  refresh?: Promise<void>;
  closing: boolean;
}

const PATCHED = Symbol.for('orm-hmr.typeorm.initialize');

/**
 * TypeORM keeps no list of DataSources, so we make one: `initialize()` (on the prototype of the
 * DataSource class the app imports) notes each instance, weakly, before it connects. Each noted
 * instance's query runners count running queries and hold new ones while its schema refreshes.
 */
export class DataSources {
  /** Every initialized DataSource, weakly; pruned as they are collected. */
  readonly all = new Set<WeakRef<DataSourceLike>>();
  /** The registry the adapter lists: DataSources initialized while a file evaluated, until that file re-evaluates. */
  readonly owned = new Set<WeakRef<DataSourceLike>>();
  readonly #state = new WeakMap<DataSourceLike, Tracked>();
  readonly #builders = new WeakMap<object, Builders | null>();
  #clock = 0;
  #context: AsyncLocalStorage<DataSourceLike> | undefined;
  warn: (message: string) => void = () => {};
  /** Reports a DataSource that became owned by the module evaluating now (its `initialize()` ran). */
  onOwned: ((ref: WeakRef<DataSourceLike>) => void) | undefined;

  patch(DataSource: unknown): void {
    const proto = (DataSource as { prototype?: Record<PropertyKey, unknown> } | undefined)?.prototype;
    const initialize = proto?.initialize;
    if (!proto || typeof initialize !== 'function' || proto[PATCHED]) return;
    const sources = this;
    proto[PATCHED] = true;
    // A method, not an arrow: `this` is the DataSource.
    proto.initialize = async function (this: DataSourceLike, ...args: unknown[]) {
      sources.#note(this);
      // One schema change at a time: SQLite has one writer, and a refresh still running would
      // hold the lock this initialization's synchronize needs.
      await sources.settled();
      return (initialize as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    };
  }

  stateOf(ref: WeakRef<DataSourceLike>): Tracked | undefined {
    const dataSource = ref.deref();
    return dataSource && this.#state.get(dataSource);
  }

  /** Live DataSources, pruning collected ones. */
  *live(): Generator<[DataSourceLike, Tracked]> {
    for (const ref of this.all) {
      const dataSource = ref.deref();
      const state = dataSource && this.#state.get(dataSource);
      if (!dataSource || !state) this.all.delete(ref);
      else yield [dataSource, state];
    }
  }

  /** Resolves once no refresh is pending. */
  async settled(): Promise<void> {
    for (const [, state] of this.live()) await state.refresh;
  }

  /** Removed from its file's generation (the file re-evaluates); returns the undo. */
  removed(ref: WeakRef<DataSourceLike>): () => void {
    const state = this.stateOf(ref);
    this.owned.delete(ref);
    if (state) state.removedAt = ++this.#clock;
    return () => {
      this.owned.add(ref);
      if (state) state.removedAt = undefined;
    };
  }

  /**
   * The file that initialized it evaluated again and did not initialize it again. If that
   * evaluation initialized another DataSource, this one was replaced: close it once its running
   * queries and open transactions are done. Otherwise the new generation still uses it (a
   * `globalThis` singleton): keep it.
   */
  release(ref: WeakRef<DataSourceLike>): 'closed' | 'reused' | void {
    const dataSource = ref.deref();
    const state = this.stateOf(ref);
    if (!dataSource || !state || state.closing) return;
    const removedAt = state.removedAt ?? Infinity;
    const replaced = [...this.owned].some((other) => (this.stateOf(other)?.initializedAt ?? 0) > removedAt);
    if (!replaced) {
      if (!dataSource.isInitialized) return undefined;
      // Back in the registry: the runtime hands it to the new generation, which releases it next time.
      this.owned.add(ref);
      state.removedAt = undefined;
      return 'reused';
    }
    state.closing = true;
    this.#closeWhenIdle(dataSource, state).catch((error) => this.warn(`typeorm: closing a replaced DataSource failed: ${describe(error)}`));
    return 'closed';
  }

  /**
   * Files registered entity (or subscriber) classes under these names. Every DataSource that lists
   * a previous class of one of those names, no longer registered, gets the new one instead; its
   * metadata is rebuilt now (so the next lookup finds the new class), and its schema synchronized
   * in the background while its new queries wait.
   */
  replaceEntities(successors: Map<string, unknown>, storage: StorageLike): void {
    for (const [dataSource, state] of this.live()) {
      if (state.closing) continue;
      const options = dataSource.options;
      const replacements = new Map<unknown, unknown>();
      for (const listed of [...listOf(options.entities), ...listOf(options.subscribers)]) {
        const next = typeof listed === 'function' ? successors.get(listed.name) : undefined;
        if (next !== undefined && next !== listed && !isRegistered(storage, listed)) replacements.set(listed, next);
      }
      if (replacements.size === 0) continue;
      swap(options.entities, replacements);
      const subscribers = swap(options.subscribers, replacements);
      if (!dataSource.isInitialized) continue; // initialize() builds from the swapped options
      let rebuilt = false;
      try {
        rebuilt = this.#rebuildNow(dataSource, storage, subscribers);
      } catch (error) {
        // Another file of this batch may not have re-evaluated yet (a relation still names an old
        // class): its own commit rebuilds again. Keep the old metadata meanwhile.
        this.#warnIfStillStale(dataSource, replacements, error);
        continue;
      }
      const synchronize = !!options.synchronize;
      if (rebuilt && !synchronize) continue;
      this.#exemptOpenTransactions(state);
      state.refresh = this.#chain(state, async () => {
        if (!dataSource.isInitialized) return;
        if (!rebuilt) {
          await dataSource.buildMetadatas();
          clearRepositories(dataSource);
        }
        if (synchronize) await this.#runInRefresh(dataSource, () => dataSource.synchronize());
      });
    }
  }

  #note(dataSource: DataSourceLike): void {
    let state = this.#state.get(dataSource);
    if (!state) {
      state = { ref: new WeakRef(dataSource), initializedAt: 0, active: 0, onIdle: new Set(), runners: new Set(), exempt: new WeakSet(), closing: false };
      this.#state.set(dataSource, state);
      this.#countQueries(dataSource, state);
    }
    state.initializedAt = ++this.#clock;
    state.closing = false;
    this.all.add(state.ref);
    this.owned.add(state.ref);
    this.onOwned?.(state.ref);
  }

  /** Wraps each query runner's `query`: counts it, and holds it while a refresh runs (unless it is the refresh's). */
  #countQueries(dataSource: DataSourceLike, state: Tracked): void {
    const driver = dataSource.driver;
    const create = driver?.createQueryRunner;
    if (typeof create !== 'function') return;
    const wrapped = new WeakSet<QueryRunnerLike>();
    const sources = this;
    driver.createQueryRunner = function (this: unknown, ...args: unknown[]) {
      const runner = (create as (...a: unknown[]) => QueryRunnerLike).apply(this, args);
      if (!runner || typeof runner.query !== 'function' || wrapped.has(runner)) return runner;
      wrapped.add(runner);
      state.runners.add(new WeakRef(runner));
      const query = runner.query;
      runner.query = async function (this: QueryRunnerLike, ...queryArgs: unknown[]) {
        if (state.refresh && !state.exempt.has(runner) && sources.#context?.getStore() !== dataSource) await state.refresh;
        state.active++;
        try {
          return await query.apply(this, queryArgs);
        } finally {
          if (--state.active === 0) for (const idle of state.onIdle) idle();
        }
      };
      return runner;
    };
  }

  /** Builds the metadata in this very job, as `DataSource.buildMetadatas()` does, when TypeORM's builders are reachable. */
  #rebuildNow(dataSource: DataSourceLike, storage: StorageLike, subscribersChanged: boolean): boolean {
    const builders = this.#buildersFor(dataSource);
    const entities = listOf(dataSource.options.entities);
    if (!builders || entities.some((entity) => typeof entity === 'string')) return false; // globs load asynchronously
    const schemas = entities.filter((entity) => builders.isEntitySchema(entity));
    const classes = entities.filter((entity) => !builders.isEntitySchema(entity));
    const metadatas = [
      ...new builders.EntityMetadataBuilder(dataSource, storage).build(classes),
      ...new builders.EntityMetadataBuilder(dataSource, new builders.EntitySchemaTransformer().transform(schemas)).build(),
    ];
    new builders.EntityMetadataValidator().validateMany(metadatas.filter((metadata) => metadata.tableType !== 'view'), (dataSource as unknown as { driver: unknown }).driver);
    const subscriberList = listOf(dataSource.options.subscribers);
    const subscribers =
      subscribersChanged && !subscriberList.some((s) => typeof s === 'string') ? storage.filterSubscribers(subscriberList).map((args) => new args.target()) : undefined;
    // Swap everything at once: a lookup sees the old metadata or the new, never a mix.
    Object.assign(dataSource, {
      entityMetadatas: metadatas,
      entityMetadatasMap: new Map(metadatas.map((metadata) => [metadata.target, metadata])),
      ...(subscribers ? { subscribers } : {}),
    });
    clearRepositories(dataSource);
    for (const { target } of metadatas) {
      const useDataSource = (target as { useDataSource?: unknown } | null)?.useDataSource;
      if (typeof useDataSource === 'function') useDataSource.call(target, dataSource); // BaseEntity
    }
    return true;
  }

  /**
   * TypeORM's own builders, from the module cache entry of the DataSource class this instance
   * was made by (not a copy we resolve ourselves). Absent when TypeORM was bundled.
   */
  #buildersFor(dataSource: DataSourceLike): Builders | undefined {
    const DataSource = (dataSource as { constructor?: object }).constructor;
    if (!DataSource) return undefined;
    if (this.#builders.has(DataSource)) return this.#builders.get(DataSource) ?? undefined;
    let found: Builders | null = null;
    try {
      const cache = builtin<typeof import('node:module')>('node:module')?.createRequire('/').cache ?? {};
      for (const [file, entry] of Object.entries(cache)) {
        if (!/[\\/]data-source[\\/]DataSource\.js$/.test(file) || entry?.exports?.DataSource !== DataSource) continue;
        const load = (path: string) => entry.require(path) as Record<string, unknown>;
        const checker = load('../util/InstanceChecker').InstanceChecker as { isEntitySchema(value: unknown): boolean };
        found = {
          EntityMetadataBuilder: load('../metadata-builder/EntityMetadataBuilder').EntityMetadataBuilder as Builders['EntityMetadataBuilder'],
          EntityMetadataValidator: load('../metadata-builder/EntityMetadataValidator').EntityMetadataValidator as Builders['EntityMetadataValidator'],
          EntitySchemaTransformer: load('../entity-schema/EntitySchemaTransformer').EntitySchemaTransformer as Builders['EntitySchemaTransformer'],
          isEntitySchema: (value) => checker.isEntitySchema(value),
        };
        if (Object.values(found).some((value) => typeof value !== 'function')) found = null;
        break;
      }
    } catch {
      found = null;
    }
    this.#builders.set(DataSource, found);
    return found ?? undefined;
  }

  /** Says so if no later commit managed the rebuild that just failed (the file's error is the user's to fix). */
  #warnIfStillStale(dataSource: DataSourceLike, replacements: Map<unknown, unknown>, error: unknown): void {
    const timer = setTimeout(() => {
      const stale = dataSource.entityMetadatas.filter((metadata) => replacements.has(metadata.target));
      if (!dataSource.isInitialized || stale.length === 0) return;
      const names = stale.map((metadata) => (metadata.target as { name?: string }).name).join(', ');
      this.warn(`typeorm: a DataSource still uses the previous ${names}: rebuilding its metadata failed: ${describe(error)}`);
    }, 1_000);
    timer.unref?.();
  }

  #exemptOpenTransactions(state: Tracked): void {
    for (const ref of state.runners) {
      const runner = ref.deref();
      if (!runner || runner.isReleased) state.runners.delete(ref);
      else if (runner.isTransactionActive) state.exempt.add(runner);
    }
  }

  #chain(state: Tracked, work: () => Promise<void>): Promise<void> {
    const refresh: Promise<void> = Promise.resolve(state.refresh)
      .then(work)
      .catch((error) => this.warn(`typeorm: refreshing a DataSource after an entity changed failed: ${describe(error)}`))
      .finally(() => {
        if (state.refresh === refresh) {
          state.refresh = undefined;
          state.exempt = new WeakSet();
        }
      });
    return refresh;
  }

  #runInRefresh<T>(dataSource: DataSourceLike, work: () => Promise<T>): Promise<T> {
    this.#context ??= newAsyncContext();
    return this.#context ? this.#context.run(dataSource, work) : work();
  }

  async #closeWhenIdle(dataSource: DataSourceLike, state: Tracked): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      await state.refresh;
      if (state.active > 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            state.onIdle.delete(done);
            resolve();
          };
          state.onIdle.add(done);
        });
        continue;
      }
      this.#exemptOpenTransactions(state);
      const inTransaction = [...state.runners].some((ref) => ref.deref()?.isTransactionActive);
      if (!inTransaction) break;
      if (Date.now() > deadline) {
        this.warn('typeorm: a replaced DataSource still had an open transaction after 60 s; closing it anyway');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

/** Replaces old entity classes by their successors in an `entities`/`subscribers` option, in place. Returns whether any changed. */
function swap(list: unknown, replacements: Map<unknown, unknown>): boolean {
  if (!list || typeof list !== 'object') return false;
  let changed = false;
  const record = list as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const next = replacements.get(record[key]);
    if (next !== undefined) {
      record[key] = next;
      changed = true;
    }
  }
  return changed;
}

function isRegistered(storage: StorageLike, target: unknown): boolean {
  return storage.tables.some((args) => args.target === target) || !!storage.entitySubscribers?.some((args) => args.target === target);
}

/** TypeORM's `mixedListToArray`: an array, or an object whose values are the list. */
function listOf(list: unknown): unknown[] {
  if (Array.isArray(list)) return list;
  return list && typeof list === 'object' ? Object.values(list) : [];
}

/** Cached repositories name their target and resolve metadata through it: drop them all, they are cheap to make. */
function clearRepositories(dataSource: DataSourceLike): void {
  dataSource.manager?.repositories?.clear();
  if (Array.isArray(dataSource.manager?.treeRepositories)) dataSource.manager.treeRepositories.length = 0;
}

function newAsyncContext(): AsyncLocalStorage<DataSourceLike> | undefined {
  const hooks = builtin<typeof import('node:async_hooks')>('node:async_hooks');
  return hooks ? new hooks.AsyncLocalStorage<DataSourceLike>() : undefined;
}
