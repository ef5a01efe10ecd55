import { heldByGlobal } from './global-cache.ts';
import { CLOSE_MAX_MS, CLOSE_QUIET_MS, closeWhenIdle, whenIdle, type ClientLike } from './idle.ts';
import { safeTarget } from './safe-uri.ts';
import { patchMethod } from '../util/patch.ts';
import type { AdapterContext, Entry } from './types.ts';

// Only the shapes we read (Mongoose 9).
export interface ConnectionLike {
  base?: { connection?: unknown };
  /** 0 disconnected, 1 connected, 2 connecting, 3 disconnecting. */
  readyState?: number;
  client?: ClientLike;
  collections: Record<string, { queue?: unknown[]; buffer?: boolean }>;
  otherDbs?: ConnectionLike[];
  _connectionString?: string;
  _closeCalled?: boolean;
  close(): Promise<unknown>;
  openUri(uri: string, options?: unknown): Promise<unknown>;
  [OPENED]?: object;
}
interface MongooseWithConnections {
  connection?: ConnectionLike;
  connections: ConnectionLike[];
  createConnection?(...args: unknown[]): ConnectionLike;
}

/** On the default connection: a token per `openUri()` call (`mongoose.connect()`), so the file that called it owns one. */
const OPENED = Symbol('orm-hmr.opened');

/**
 * Connections a file opens at its top level. `mongoose.createConnection(uri)` adds a connection
 * of its own to `mongoose.connections`: it is that file's, and is closed once the file evaluated
 * again and its in-flight operations are done. `mongoose.connect(uri)` opens the default
 * connection, which is never closed for good: evaluated again with the same connection string,
 * Mongoose 9 returns at once and we say `reused`; with a different one (Mongoose would reject
 * with "Can't call `openUri()` on an active connection with different connection strings"),
 * we close it once idle and reopen it with the new string, and say so.
 */
export function connectionTracker(context: () => AdapterContext | undefined) {
  const patched = new WeakSet<object>();
  // Default connections whose file is re-evaluating: their `connect()` token was purged.
  const parked = new WeakSet<ConnectionLike>();
  // Default connections being reopened with a new connection string by the evaluating file.
  const switching = new WeakSet<ConnectionLike>();
  // A reopen under way, and the string it opens: a save that comes before it is done queues behind it.
  const reopening = new WeakMap<ConnectionLike, { uri: string; done: Promise<unknown> }>();

  /** Hooks `openUri` (the default connection's `connect()`) and `createConnection()`; returns the undos. */
  function watch(mongoose: MongooseWithConnections, report: (entry: Entry) => void): (() => void)[] {
    const restores: (() => void)[] = [];
    let proto: object | null = mongoose.connection ?? null;
    while (proto && !Object.hasOwn(proto, 'openUri')) proto = Object.getPrototypeOf(proto);
    if (proto && !patched.has(proto)) {
      patched.add(proto);
      restores.push(() => patched.delete(proto!));
      restores.push(
        patchMethod(proto as ConnectionLike, 'openUri', (original) =>
          function openUri(this: ConnectionLike, uri: string, options?: unknown) {
            if (this.base?.connection !== this) return original.call(this, uri, options);
            this[OPENED] = {};
            report(defaultEntry(this)!);
            const pending = reopening.get(this);
            const current = pending?.uri ?? this._connectionString;
            const active = pending !== undefined || this.readyState === 1 || this.readyState === 2;
            if (active && parked.has(this) && typeof uri === 'string' && current !== uri) return reopen(this, original, uri, options, current);
            // The same string a reopen under way is opening: Mongoose would return at once once it is open.
            if (pending && current === uri) return pending.done.then(() => this);
            return original.call(this, uri, options);
          },
        ),
      );
    }
    let owner: object | null = mongoose;
    while (owner && !Object.hasOwn(owner, 'createConnection')) owner = Object.getPrototypeOf(owner);
    if (owner && !patched.has(owner)) {
      patched.add(owner);
      restores.push(() => patched.delete(owner!));
      restores.push(
        patchMethod(owner as MongooseWithConnections, 'createConnection', (original) =>
          function createConnection(this: MongooseWithConnections, ...args: unknown[]) {
            const connection = original!.apply(this, args);
            const base = (connection as { base?: MongooseWithConnections } | undefined)?.base ?? this;
            if (connection && base?.connections?.includes(connection)) report(ownEntry(base, connection));
            return connection;
          },
        ),
      );
    }
    return restores;
  }

  /** The connection string was edited: close once nothing is in flight (new work then buffers), reopen. */
  function reopen(connection: ConnectionLike, original: ConnectionLike['openUri'], uri: string, options: unknown, from: string | undefined): Promise<unknown> {
    switching.add(connection);
    context()?.log('info', `mongoose: the connection string of the default connection changed (${safeTarget(from)} to ${safeTarget(uri)}); reconnecting it once its in-flight operations are done`);
    const previous = reopening.get(connection)?.done.catch(() => {});
    const done = Promise.resolve(previous).then(
      () =>
        new Promise((resolve, reject) => {
          const busy = () => connection.readyState === 2;
          // Quiet 0: the close starts in the job that saw nothing in flight. Mongoose 9 does not
          // buffer on a closed connection (its collections' onClose does nothing; operations would
          // reach the closed client and throw MongoNotConnectedError), so we turn buffering on, as
          // before the first open; the reopened connection's onOpen turns it off and runs the queue.
          whenIdle(connection.client ?? {}, { quietMs: 0, maxMs: CLOSE_MAX_MS, busy }, () => {
            for (const db of [connection, ...(connection.otherDbs ?? [])]) {
              for (const collection of Object.values(db.collections)) collection.buffer = true;
            }
            connection
              .close()
              .then(() => original.call(connection, uri, options))
              .then(resolve, reject);
          });
        }),
    );
    reopening.set(connection, { uri, done });
    const settle = () => {
      if (reopening.get(connection)?.done === done) reopening.delete(connection);
    };
    done.then(settle, settle);
    return done;
  }

  function defaultEntry(connection: ConnectionLike): Entry | undefined {
    const token = connection[OPENED];
    if (!token) return undefined;
    return {
      container: connection,
      key: OPENED,
      value: token,
      label: 'connection',
      // Nothing of Mongoose's changes: only our token goes, so a new `connect()` shows as new.
      remove() {
        if (connection[OPENED] !== token) return () => {};
        delete connection[OPENED];
        parked.add(connection);
        return () => {
          parked.delete(connection);
          connection[OPENED] ??= token;
        };
      },
      release() {
        parked.delete(connection);
        if (switching.has(connection)) {
          switching.delete(connection);
          return 'closed';
        }
        // Connected again with the same string: Mongoose kept the connection as it was.
        return connection[OPENED] ? 'reused' : undefined;
      },
    };
  }

  function ownEntry(mongoose: MongooseWithConnections, connection: ConnectionLike): Entry {
    return {
      container: mongoose.connections,
      value: connection,
      label: 'connection',
      release() {
        if (heldByGlobal(connection)) {
          if (!mongoose.connections.includes(connection)) mongoose.connections.push(connection);
          return 'reused';
        }
        if (connection.readyState === 0 && connection._closeCalled) return undefined;
        const busy = () => connection.readyState === 2 || Object.values(connection.collections).some((c) => (c.queue?.length ?? 0) > 0);
        closeWhenIdle(connection.client ?? {}, () => connection.close(), {
          quietMs: CLOSE_QUIET_MS,
          maxMs: CLOSE_MAX_MS,
          busy,
          what: 'previous mongoose connection',
          log: (message) => context()?.log('warn', message),
        });
        return 'closed';
      },
    };
  }

  return {
    watch,
    /** The default connection's `connect()` token, then every other connection, as entries. */
    entries(out: Entry[], mongoose: MongooseWithConnections): void {
      const byDefault = mongoose.connection;
      for (const connection of mongoose.connections) {
        if (connection === byDefault) {
          const entry = defaultEntry(connection);
          if (entry) out.push(entry);
        } else out.push(ownEntry(mongoose, connection));
      }
    },
  };
}
