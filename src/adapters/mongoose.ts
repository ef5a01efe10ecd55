import type { Adapter, AdapterContext, Entry } from './types.ts';

// Only the shapes we read. Mongoose's own types would tie us to one major version.
interface MongooseLike {
  models: Record<string, ModelLike>;
  connections: ConnectionLike[];
  plugins: [fn: unknown, opts?: unknown][];
  Error?: { OverwriteModelError?: new (name: string) => Error };
}
interface ConnectionLike {
  models: Record<string, ModelLike>;
  collections: Record<string, CollectionLike>;
  otherDbs?: ConnectionLike[];
  plugins?: unknown[];
  _queue?: unknown[];
}
interface ModelLike {
  modelName: string;
  collection?: CollectionLike;
  discriminators?: Record<string, ModelLike>;
  schema?: { discriminators?: Record<string, unknown> };
}
interface CollectionLike {
  queue?: unknown[];
}

/**
 * Mongoose: models on every connection of every Mongoose instance the app imports (`mongoose.models`,
 * `connection.models`, `useDb()` connections), discriminators (in the base model and its schema),
 * the cached collections those models created, plugins added with `mongoose.plugin()` or
 * `connection.plugin()`, and the init callbacks an unconnected connection queues for each model.
 */
export function mongooseAdapter(): Adapter {
  // Package singletons: the `mongoose` default export, once per installed copy. Kept for the process.
  const instances = new Set<MongooseLike>();
  // Plugins Mongoose installs itself, so they are never attributed to a file.
  const builtinPlugins = new WeakSet<object>();
  const watchedErrors = new WeakSet<object>();

  return {
    name: 'mongoose',
    packages: ['mongoose'],

    attach(namespace, _specifier, context) {
      const mongoose = findMongoose(namespace);
      if (!mongoose || instances.has(mongoose)) return;
      instances.add(mongoose);
      for (const plugin of mongoose.plugins) builtinPlugins.add(plugin);
      if (context) reportOverwrites(mongoose, context, watchedErrors);
    },

    attached: () => instances.size > 0,

    *entries() {
      const seenConnections = new Set<ConnectionLike>();
      const seenModels = new Set<ModelLike>();
      for (const mongoose of instances) {
        yield* namedModels(mongoose.models);
        for (const plugin of mongoose.plugins) {
          if (!builtinPlugins.has(plugin)) yield pluginEntry(mongoose.plugins, plugin, plugin[0]);
        }
        for (const connection of mongoose.connections) {
          yield* connectionEntries(connection, seenConnections, seenModels);
        }
      }
    },
  };
}

function* connectionEntries(
  connection: ConnectionLike,
  seenConnections: Set<ConnectionLike>,
  seenModels: Set<ModelLike>,
): Generator<Entry> {
  if (seenConnections.has(connection)) return;
  seenConnections.add(connection);
  // Models first: a collection is only dropped once no remaining model uses it.
  yield* namedModels(connection.models);
  for (const model of Object.values(connection.models)) {
    if (seenModels.has(model)) continue;
    seenModels.add(model);
    yield* discriminatorEntries(model);
  }
  for (const [name, collection] of Object.entries(connection.collections)) {
    yield collectionEntry(connection, name, collection);
  }
  for (const plugin of connection.plugins ?? []) yield pluginEntry(connection.plugins!, plugin, (plugin as unknown[])[0]);
  // Before the first connect, each model's init waits in `_queue` and holds the model.
  for (const waiting of connection._queue ?? []) yield { container: connection._queue!, value: waiting };
  for (const other of connection.otherDbs ?? []) yield* connectionEntries(other, seenConnections, seenModels);
}

function* namedModels(models: Record<string, ModelLike>): Generator<Entry> {
  for (const [name, model] of Object.entries(models)) {
    yield { container: models, key: name, value: model, label: name, track: true };
  }
}

function* discriminatorEntries(model: ModelLike): Generator<Entry> {
  for (const [name, discriminator] of Object.entries(model.discriminators ?? {})) {
    yield { container: model.discriminators!, key: name, value: discriminator, label: name };
  }
  const schemas = model.schema?.discriminators;
  for (const [name, schema] of Object.entries(schemas ?? {})) {
    yield { container: schemas!, key: name, value: schema };
  }
}

function pluginEntry(container: unknown[], plugin: unknown, fn: unknown): Entry {
  const name = typeof fn === 'function' && fn.name ? fn.name : 'anonymous';
  return { container, value: plugin, label: `plugin ${name}` };
}

/**
 * A cached collection is dropped with the file that created it, because its options hold the
 * schema's options (and any `toJSON.transform` closure in them, and through it the old module).
 * It stays while another model still uses it or while it buffers operations for the next connect.
 */
function collectionEntry(connection: ConnectionLike, name: string, collection: CollectionLike): Entry {
  return {
    container: connection.collections,
    key: name,
    value: collection,
    remove() {
      const inUse = Object.values(connection.models).some((model) => model.collection === collection);
      if (inUse || (collection.queue?.length ?? 0) > 0 || connection.collections[name] !== collection) {
        return () => {};
      }
      delete connection.collections[name];
      return () => {
        if (!Object.hasOwn(connection.collections, name)) connection.collections[name] = collection;
      };
    },
  };
}

function findMongoose(namespace: unknown): MongooseLike | undefined {
  const candidates = [namespace, (namespace as { default?: unknown })?.default, (namespace as { mongoose?: unknown })?.mongoose];
  return candidates.find(isMongoose);
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
