import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Events an HTTP server emits for the app. Once a newer generation of the app listens on the same
 * address, the bound server emits them on the newer app's server object instead (Node's HTTP code
 * calls `server.emit` and `server.listenerCount` for each of them, nothing else).
 */
const APP_EVENTS = new Set<string | symbol>(['request', 'upgrade', 'clientError', 'checkContinue', 'checkExpectation', 'connect', 'dropRequest']);

/** Timeouts and limits the app may have set on its own server object: the bound server takes them over. */
const SETTINGS = ['timeout', 'keepAliveTimeout', 'headersTimeout', 'requestTimeout', 'maxHeadersCount', 'maxRequestsPerSocket'] as const;

type HttpServer = http.Server | https.Server;
type Callback = (error?: Error) => void;

/** One bound address: the server holding the socket, and the app's server its events go to. */
interface Slot {
  readonly key: string;
  readonly real: HttpServer;
  current: HttpServer;
  /** The app closed `current` during a reload: closed for real unless a new generation listens. */
  released: boolean;
  close: (callback?: Callback) => void;
}

export interface KeptServers {
  /** A reload starts: a server the old generation closes now stays bound for the next one's listen(). */
  beginReload(): void;
  /** The reload is over: addresses nobody listens on any more are closed. */
  endReload(): void;
  /** Handles a request before the app does (the ledger page on the app's port); true if it did. */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Bound addresses, `host|port`. */
  readonly keys: string[];
  /** Stops accepting connections everywhere and resolves once in-flight requests are done (or `ms` passed). */
  closeAll(ms: number): Promise<void>;
}

/**
 * Keeps the listening server across reloads. `listen()` of an HTTP server on a host and port that
 * an earlier generation of the app already listens on does not bind: the bound server emits its
 * requests, upgrades and client errors on the new server object from then on, and the previous
 * app's listeners are removed from it, so nothing of the old generation stays reachable through
 * the socket. Connections are never refused; a request already dispatched finishes on the code
 * that received it. Port 0, pipes and plain TCP servers bind as usual.
 */
export function keepListeningServers(): KeptServers {
  const slots = new Map<string, Slot>();
  let reloading = 0;
  const ours = new WeakSet<Function>();
  const listen = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;

  const kept: KeptServers = {
    beginReload() {
      reloading++;
    },
    endReload() {
      if (--reloading > 0) return;
      for (const slot of slots.values()) {
        if (slot.released) slot.close();
      }
    },
    get keys() {
      return [...slots.keys()];
    },
    async closeAll(ms) {
      const closing = [...slots.values()].map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.close(() => resolve());
            slot.real.closeIdleConnections?.();
          }),
      );
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
      await Promise.race([Promise.all(closing), timeout]);
      for (const slot of slots.values()) slot.real.closeAllConnections?.();
    },
  };

  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const target = isHttp(this) ? listenTarget(args) : undefined;
    if (!target) return listen.apply(this, args);
    const slot = slots.get(target.key);
    if (slot && slot.real !== this && slot.real.listening) {
      takeOver(slot, this as HttpServer, target.callback);
      return this;
    }
    const onListening = () => adopt(this as HttpServer, target.key);
    ours.add(onListening);
    this.once('listening', onListening);
    return listen.apply(this, args);
  };

  /** The first generation's server bound `key`: from now on its app events follow the latest generation. */
  function adopt(real: HttpServer, key: string) {
    const close = real.close;
    const slot: Slot = {
      key,
      real,
      current: real,
      released: false,
      close(callback) {
        slots.delete(key);
        slot.released = false;
        close.call(real, callback);
      },
    };
    slots.set(key, slot);
    const emit = real.emit;
    const listenerCount = real.listenerCount;
    Object.assign(real, {
      emit(this: HttpServer, event: string | symbol, ...args: unknown[]) {
        if (event === 'request' && kept.intercept?.(args[0] as http.IncomingMessage, args[1] as http.ServerResponse)) return true;
        if (slot.current !== real && APP_EVENTS.has(event)) return (slot.current.emit as Function).call(slot.current, event, ...args);
        return (emit as Function).call(this, event, ...args);
      },
      listenerCount(this: HttpServer, event: string | symbol, listener?: Function) {
        if (slot.current !== real && APP_EVENTS.has(event)) return slot.current.listenerCount(event, listener);
        return listenerCount.call(this, event, listener);
      },
      close(this: HttpServer, callback?: Callback) {
        release(slot, real, callback);
        return real;
      },
    });
    const onClose = () => {
      if (slots.get(key) === slot) slots.delete(key);
    };
    ours.add(onClose);
    real.once('close', onClose);
  }

  function takeOver(slot: Slot, next: HttpServer, callback: unknown) {
    if (slot.current === slot.real) removeAppListeners(slot.real, ours);
    slot.current = next;
    slot.released = false;
    const real = slot.real as unknown as Record<string, unknown>;
    for (const name of SETTINGS) if (typeof (next as unknown as Record<string, unknown>)[name] === 'number') real[name] = (next as unknown as Record<string, unknown>)[name];
    // The new app's server answers as if it had bound the address itself.
    Object.defineProperties(next, {
      listening: { configurable: true, get: () => slot.current === next && slot.real.listening },
      address: { configurable: true, writable: true, value: () => (slot.current === next ? slot.real.address() : null) },
      close: {
        configurable: true,
        writable: true,
        value: (cb?: Callback) => {
          release(slot, next, cb);
          return next;
        },
      },
      getConnections: { configurable: true, writable: true, value: (cb: (error: Error | null, count: number) => void) => slot.real.getConnections(cb) },
      ref: { configurable: true, writable: true, value: () => next },
      unref: { configurable: true, writable: true, value: () => next },
    });
    // Node's own 'listening' handler would start the server's connection checks: an interval
    // that holds the server object (and its app) until it is closed, which this one never is.
    for (const listener of nodeListeners(next, 'listening')) next.removeListener('listening', listener as () => void);
    if (typeof callback === 'function') next.once('listening', callback as () => void);
    process.nextTick(() => next.emit('listening'));
  }

  /**
   * The app closes one of its servers. The latest generation's, outside a reload: the address is
   * closed. During a reload (an `onUnload` closing the old server): kept bound for the new
   * generation, closed at the end of the reload if none listens. An older generation's: it only
   * hears that it is closed.
   */
  function release(slot: Slot, server: HttpServer, callback?: Callback) {
    const done = () => {
      if (server !== slot.real) server.emit('close');
      callback?.();
    };
    if (slot.current !== server || reloading > 0) {
      if (slot.current === server) slot.released = true;
      process.nextTick(done);
      return;
    }
    slot.close(server === slot.real ? callback : () => done());
  }

  return kept;
}

function isHttp(server: net.Server): server is HttpServer {
  return server instanceof http.Server || server instanceof https.Server;
}

/** The host and port `listen(...)` asks for, as Node reads its arguments; undefined for port 0, pipes and handles. */
function listenTarget(args: unknown[]): { key: string; callback: unknown } | undefined {
  const callback = typeof args.at(-1) === 'function' ? args.at(-1) : undefined;
  const [first, second] = args;
  let port: unknown;
  let host: unknown;
  if (first && typeof first === 'object') {
    const options = first as { port?: unknown; host?: unknown; path?: unknown; fd?: unknown; _handle?: unknown };
    if (options.path !== undefined || options.fd !== undefined || '_handle' in options) return undefined;
    ({ port, host } = options);
  } else {
    port = first;
    host = typeof second === 'string' ? second : undefined;
  }
  const number = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0) return undefined;
  return { key: `${typeof host === 'string' ? host : ''}|${number}`, callback };
}

/** The listeners Node itself puts on a server of this class for `event` (none if it cannot make one). */
function nodeListeners(server: HttpServer, event: string | symbol): Function[] {
  try {
    return new (server.constructor as new () => HttpServer)().listeners(event);
  } catch {
    return [];
  }
}

/**
 * Removes every listener the first generation's app put on its server (its request handler, its
 * `close` and `error` handlers), keeping Node's own (those a fresh server of the same class has)
 * and ours.
 */
function removeAppListeners(server: HttpServer, ours: WeakSet<Function>) {
  let fresh: HttpServer | undefined;
  try {
    fresh = new (server.constructor as new () => HttpServer)();
  } catch {
    // A subclass that needs arguments: only the app events' listeners are removed.
  }
  for (const event of server.eventNames()) {
    if (!fresh && !APP_EVENTS.has(event)) continue;
    const node = new Set(fresh?.listeners(event) ?? []);
    for (const listener of server.rawListeners(event) as (Function & { listener?: Function })[]) {
      const original = listener.listener ?? listener;
      if (node.has(original) || ours.has(original)) continue;
      server.removeListener(event, original as (...args: unknown[]) => void);
    }
  }
}
