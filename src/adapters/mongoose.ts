import { connectionTracker, type ConnectionLike as OpenableConnection } from './mongoose-connections.ts';
import { QueuedInit, compactQueues, isQueueElement, isSkipped } from './mongoose-queue.ts';
import { debug } from '../util/log.ts';
import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the shapes we read. Mongoose's own types would tie us to one major version.
interface MongooseLike {
  models: Record<string, ModelLike>;
  connection?: ConnectionLike;
  connections: ConnectionLike[];
  plugins: [fn: unknown, opts?: unknown][];
  Error?: { OverwriteModelError?: new (name: string) => Error };
  Model?: { discriminator?: (...args: unknown[]) => unknown };
}
interface ConnectionLike extends OpenableConnection {
  models: Record<string, ModelLike>;
  collections: Record<string, CollectionLike>;
  otherDbs?: ConnectionLike[];
  plugins?: unknown[];
  _queue?: unknown[];
}
interface ModelLike {
  modelName: string;
  baseModelName?: string;
  collection?: CollectionLike;
  discriminators?: Record<string, ModelLike>;
  schema?: { discriminators?: Record<string, unknown>; _userProvidedOptions?: object };
}
interface CollectionLike {
  queue?: unknown[];
  /** True until the connection first opens: the collection buffers operations. */
  buffer?: boolean;
  /** The model that created it. */
  modelName?: string;
  opts?: { schemaUserProvidedOptions?: object };
}

type Report = (entry: Entry) => void;

/**
 * Mongoose: models on every connection of every Mongoose instance the app imports (`mongoose.models`,
 * `connection.models`, `useDb()` connections), discriminators (in the base model and its schema),
 * the cached collections those models created, plugins added with `mongoose.plugin()` or
 * `connection.plugin()`, the init callbacks an unconnected connection queues for each model, and
 * the connections a file opens (see mongoose-connections.ts).
 */
export function mongooseAdapter(): Adapter {
  // The `mongoose` default export, once per copy. Held weakly: a copy the bundler evaluates itself
  // (`ssr.noExternal`) is new on each full reload, and the old ones must be free to go.
  const instances = new Set<WeakRef<MongooseLike>>();
  const known = new WeakSet<MongooseLike>();
  // Plugins Mongoose installs itself, so they are never attributed to a file.
  const builtinPlugins = new WeakSet<object>();
  const watchedErrors = new WeakSet<object>();
  // Prototypes and classes whose registration calls we hooked (one per copy of Mongoose), and the undo of each hook.
  const hooked = new WeakSet<object>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;
  const connections = connectionTracker(() => context);
  const report: Report = (entry) => context?.register(entry);

  return {
    name: 'mongoose',
    packages: ['mongoose'],
    reports: true,

    attach(namespace, _specifier, adapterContext) {
      const mongoose = findMongoose(namespace);
      if (!mongoose || known.has(mongoose)) return;
      context = context ?? adapterContext;
      known.add(mongoose);
      restores.push(...connections.watch(mongoose, report));
      restores.push(...hookRegistrations(mongoose, hooked, report, builtinPlugins));
      instances.add(new WeakRef(mongoose));
      for (const plugin of mongoose.plugins) builtinPlugins.add(plugin);
      if (adapterContext) reportOverwrites(mongoose, adapterContext, watchedErrors);
    },

    attached() {
      for (const ref of instances) if (ref.deref() !== undefined) return true;
      return false;
    },

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    // Read once per reload batch, by the sweep: what no hook reported.
    entries() {
      const out: Entry[] = [];
      const seenConnections = new Set<ConnectionLike>();
      const seenModels = new Set<ModelLike>();
      for (const ref of instances) {
        const mongoose = ref.deref();
        if (!mongoose) {
          instances.delete(ref);
          continue;
        }
        addModels(out, mongoose.models);
        for (const plugin of mongoose.plugins) {
          if (!builtinPlugins.has(plugin)) out.push(pluginEntry(mongoose.plugins, plugin, plugin[0]));
        }
        for (const connection of mongoose.connections) addConnection(out, connection, seenConnections, seenModels);
        // After the models: a connection goes once what lives on it has gone.
        connections.entries(out, mongoose);
      }
      return out;
    },

    // A model that found its collection still cached (kept because it buffers operations, or another
    // model uses it) would leave the collection holding the previous schema's options, closures and
    // all. Mongoose would have given a fresh collection the new ones: so do we.
    committed(entries) {
      for (const { value, track } of entries) {
        const model = value as ModelLike;
        const collection = track ? model.collection : undefined;
        const opts = collection?.opts;
        const options = model.schema?._userProvidedOptions;
        if (opts && options && !model.baseModelName && collection!.modelName === model.modelName && opts.schemaUserProvidedOptions !== options) {
          opts.schemaUserProvidedOptions = { ...options };
        }
      }
      compactQueues();
      for (const ref of instances) {
        const mongoose = ref.deref();
        if (mongoose && dropClosedConnections(mongoose) > 0) context?.released('connection', 'dropped');
      }
    },
  };
}

/**
 * Reports each registration as Mongoose makes it: a model in `mongoose.models` and a connection's
 * `models` (`mongoose.model()`, `connection.model()`), a discriminator in its base model's
 * `discriminators` and its schema's, the collection a model creates, the init a model queues on an
 * unconnected connection, and plugins. Each hook compares the few slots its call can write before
 * and after it: what changed is what the call registered.
 */
function hookRegistrations(mongoose: MongooseLike, hooked: WeakSet<object>, report: Report, builtinPlugins: WeakSet<object>): (() => void)[] {
  const restores: (() => void)[] = [];
  const hook = <T extends object>(owner: T | null | undefined, key: keyof T & string, around: (self: any, args: any[], call: () => unknown) => unknown) => {
    const at = ownerOf(owner, key);
    if (!at || hooked.has(at[key] as object)) return;
    restores.push(
      patchMethod(at, key, (original) =>
        function (this: unknown, ...args: unknown[]) {
          return around(this, args, () => (original as (...a: unknown[]) => unknown).apply(this, args));
        } as T[keyof T & string],
      ),
    );
    hooked.add(at[key] as object);
  };
  const isMongooseThis = (self: unknown): MongooseLike => (isMongoose(self) ? self : mongoose);

  hook(mongoose as MongooseLike & { model: unknown }, 'model', (self, args, call) => {
    const m = isMongooseThis(self);
    const name = modelKey(args[0]);
    const before = [m.models[name], m.connection?.models[name]];
    const model = call();
    if (isModel(model)) {
      reportSlot(report, m.models, model.modelName, before[0], model, true);
      if (m.connection) reportSlot(report, m.connection.models, model.modelName, before[1], model, true);
    }
    return model;
  });
  // Where every model is compiled: the init an unconnected connection queues for it.
  hook(mongoose as MongooseLike & { _model: unknown }, '_model', (self, args, call) => {
    const connection = (args[3] as { connection?: ConnectionLike } | undefined)?.connection ?? isMongooseThis(self).connection;
    return reportQueued(report, connection, call);
  });
  hook(mongoose as MongooseLike & { plugin: unknown }, 'plugin', (self, _args, call) => reportPlugins(report, isMongooseThis(self).plugins, builtinPlugins, call));

  const connection = mongoose.connection as (ConnectionLike & { model?: unknown; collection?: unknown; plugin?: unknown }) | undefined;
  hook(connection, 'model', (self: ConnectionLike, args, call) => {
    const name = modelKey(args[0]);
    const before = self.models[name];
    const model = reportQueued(report, self, call);
    if (isModel(model)) reportSlot(report, self.models, name, before, model, true);
    return model;
  });
  hook(connection, 'collection', (self: ConnectionLike, args, call) => {
    const name = String(args[0]);
    const existed = Object.hasOwn(self.collections, name);
    const collection = call();
    if (!existed && self.collections[name] === collection) report(new CollectionEntry(self, name, collection as CollectionLike));
    return collection;
  });
  hook(connection, 'plugin', (self: ConnectionLike, _args, call) => (self.plugins ? reportPlugins(report, self.plugins, builtinPlugins, call) : call()));

  hook(mongoose.Model, 'discriminator', (self: ModelLike, args, call) => {
    const name = modelKey(args[0]);
    const before = [self.discriminators?.[name], self.schema?.discriminators?.[name]];
    const model = call();
    if (self.discriminators) reportSlot(report, self.discriminators, name, before[0], self.discriminators[name], false);
    if (self.schema?.discriminators) reportSlot(report, self.schema.discriminators, name, before[1], self.schema.discriminators[name], false, false);
    return model;
  });
  return restores;
}

/** The object on `owner`'s prototype chain that holds `key` itself. */
function ownerOf<T extends object>(owner: T | null | undefined, key: PropertyKey): T | undefined {
  let at: object | null | undefined = owner;
  while (at && !Object.hasOwn(at, key)) at = Object.getPrototypeOf(at);
  return at && typeof (at as Record<PropertyKey, unknown>)[key] === 'function' ? (at as T) : undefined;
}

function modelKey(name: unknown): string {
  return typeof name === 'function' ? name.name : String(name);
}

function isModel(value: unknown): value is ModelLike {
  return typeof value === 'function' && typeof (value as { modelName?: unknown }).modelName === 'string';
}

/** A slot the call changed to `value`: the call registered it. */
function reportSlot(report: Report, container: Record<string, unknown>, key: string, before: unknown, value: unknown, track: boolean, labelled = true): void {
  if (value === undefined || container[key] !== value || before === value) return;
  if (track) noteCollectionUser(value as ModelLike);
  const entry: Entry = { container, key, value };
  if (labelled) entry.label = key;
  if (track) entry.track = true;
  report(entry);
}

/**
 * The names of the models that used each cached collection, as the hooks saw them register: a
 * collection's removal checks those few, not every model of the connection (a file's cost must not
 * grow with the app). Names, not models: this must not keep an old generation alive.
 */
const collectionUsers = new WeakMap<CollectionLike, Set<string>>();

function noteCollectionUser(model: ModelLike): void {
  const collection = model.collection;
  if (!collection) return;
  let users = collectionUsers.get(collection);
  if (!users) collectionUsers.set(collection, (users = new Set()));
  users.add(model.modelName);
}

/** Whether a model registered on `connection` now still uses `collection`. */
function collectionInUse(connection: ConnectionLike, collection: CollectionLike): boolean {
  const users = collectionUsers.get(collection);
  // Models the hooks never saw (registered before orm-hmr attached): look at them all.
  if (!users) return Object.values(connection.models).some((model) => model.collection === collection);
  for (const name of users) if (connection.models[name]?.collection === collection) return true;
  return false;
}

/** Before the first connect, each model's init waits in `_queue` and holds the model. */
function reportQueued(report: Report, connection: ConnectionLike | undefined, call: () => unknown): unknown {
  const queue = connection?._queue;
  const length = queue?.length ?? 0;
  const result = call();
  if (queue && connection._queue === queue) for (let i = length; i < queue.length; i++) report(queuedEntry(queue, queue[i]));
  return result;
}

function reportPlugins(report: Report, plugins: unknown[], builtinPlugins: WeakSet<object>, call: () => unknown): unknown {
  const length = plugins.length;
  const result = call();
  for (let i = length; i < plugins.length; i++) {
    const plugin = plugins[i];
    if (!builtinPlugins.has(plugin as object)) report(pluginEntry(plugins, plugin, (plugin as unknown[])[0]));
  }
  return result;
}

/**
 * Mongoose keeps a connection in `mongoose.connections` after `close()` (only `destroy()` removes
 * it), with every model compiled on it. A dev server that bootstraps its app again on each reload
 * (NestJS's HMR recipe with `@nestjs/mongoose`) closes one connection per reload, and they pile up
 * with each generation's models. Closed ones are dropped; the default connection never is. (A
 * closed connection opened again later is not put back in the list.)
 */
function dropClosedConnections(mongoose: MongooseLike): number {
  let dropped = 0;
  const connections = mongoose.connections;
  for (let i = connections.length - 1; i >= 0; i--) {
    const connection = connections[i] as ConnectionLike & { _closeCalled?: boolean; readyState?: number };
    if (connection !== mongoose.connection && connection._closeCalled === true && connection.readyState === 0) {
      connections.splice(i, 1);
      dropped++;
      debug(() => `mongoose: dropped a closed connection (${Object.keys(connection.models).length} models) from mongoose.connections`);
    }
  }
  return dropped;
}

function addConnection(out: Entry[], connection: ConnectionLike, seenConnections: Set<ConnectionLike>, seenModels: Set<ModelLike>): void {
  if (seenConnections.has(connection)) return;
  seenConnections.add(connection);
  // Models first: a collection is only dropped once no remaining model uses it.
  const models = connection.models;
  addModels(out, models);
  for (const name in models) {
    const model = models[name]!;
    if (seenModels.has(model)) continue;
    seenModels.add(model);
    addDiscriminators(out, model);
  }
  const collections = connection.collections;
  for (const name in collections) out.push(new CollectionEntry(connection, name, collections[name]!));
  const plugins = connection.plugins;
  if (plugins) for (const plugin of plugins) out.push(pluginEntry(plugins, plugin, (plugin as unknown[])[0]));
  // Before the first connect, each model's init waits in `_queue` and holds the model.
  const queue = connection._queue;
  if (queue) for (const waiting of queue) if (!isSkipped(waiting)) out.push(queuedEntry(queue, waiting));
  for (const other of connection.otherDbs ?? []) addConnection(out, other, seenConnections, seenModels);
}

function queuedEntry(queue: unknown[], element: unknown): Entry {
  return isQueueElement(element) ? new QueuedInit(queue, element) : { container: queue, value: element };
}

function addModels(out: Entry[], models: Record<string, ModelLike>): void {
  for (const name in models) out.push({ container: models, key: name, value: models[name], label: name, track: true });
}

function addDiscriminators(out: Entry[], model: ModelLike): void {
  const discriminators = model.discriminators;
  if (discriminators) {
    for (const name in discriminators) out.push({ container: discriminators, key: name, value: discriminators[name], label: name });
  }
  const schemas = model.schema?.discriminators;
  if (schemas) for (const name in schemas) out.push({ container: schemas, key: name, value: schemas[name] });
}

function pluginEntry(container: unknown[], plugin: unknown, fn: unknown): Entry {
  const name = typeof fn === 'function' && fn.name ? fn.name : 'anonymous';
  return { container, value: plugin, label: `plugin ${name}` };
}

/**
 * A cached collection is dropped with the file that created it, because its options hold the
 * schema's options (and any `toJSON.transform` closure in them, and through it the old module).
 * It stays while another model still uses it, and while the connection has not opened yet: code
 * still holding the old model (another bundle, an in-flight request) would otherwise buffer
 * operations into a collection the connection never opens.
 */
class CollectionEntry implements Entry {
  // A class, not an object with a closure: every listing makes one per collection.
  readonly container: Record<string, CollectionLike>;
  constructor(
    readonly connection: ConnectionLike,
    readonly key: string,
    readonly value: CollectionLike,
  ) {
    this.container = connection.collections;
  }

  remove(): () => void {
    const { connection, key: name, value: collection } = this;
    const inUse = collectionInUse(connection, collection);
    if (inUse || collection.buffer !== false || (collection.queue?.length ?? 0) > 0 || connection.collections[name] !== collection) {
      return () => {};
    }
    delete connection.collections[name];
    return () => {
      if (!Object.hasOwn(connection.collections, name)) connection.collections[name] = collection;
    };
  }
}

/**
 * The Mongoose instance behind an import. Never the namespace object itself: a bundler's namespace
 * (webpack's interop object) re-exports `models` and friends through getters that close over the
 * whole bundle, and keeping it would keep every generation of that bundle alive.
 */
function findMongoose(namespace: unknown): MongooseLike | undefined {
  const ns = namespace as { default?: unknown; mongoose?: unknown } | undefined;
  const found = [ns?.default, ns?.mongoose, namespace].find(isMongoose);
  const self = (found as { mongoose?: unknown } | undefined)?.mongoose;
  return isMongoose(self) ? self : found;
}

function isMongoose(value: unknown): value is MongooseLike {
  const m = value as MongooseLike | undefined;
  return !!m && typeof m === 'object' && typeof m.models === 'object' && Array.isArray(m.connections) && Array.isArray(m.plugins);
}

/**
 * Two files that register one model name make Mongoose throw OverwriteModelError, which names the
 * model but not the files. Mongoose looks the class up on `mongoose.Error` when it throws, so a
 * subclass there lets us add the files to the story; the error itself is unchanged.
 */
function reportOverwrites(mongoose: MongooseLike, context: AdapterContext, watched: WeakSet<object>): void {
  const errors = mongoose.Error;
  const Original = errors?.OverwriteModelError;
  if (!errors || typeof Original !== 'function' || watched.has(errors)) return;
  watched.add(errors);
  class OverwriteModelError extends Original {
    constructor(name: string) {
      super(name);
      context.conflict(name);
    }
  }
  Object.defineProperty(OverwriteModelError, 'name', { value: Original.name });
  errors.OverwriteModelError = OverwriteModelError;
}
