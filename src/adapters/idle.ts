/**
 * Waiting for a MongoDB client to have nothing in flight, before closing it.
 *
 * `MongoClient#close()` does not wait: it first closes every checked-out connection, and the
 * operations on them fail with "Operation interrupted because client was closed"
 * (mongodb 7.8, `src/mongo_client.ts` `_close()` calls `topology.closeCheckedOutConnections()`,
 * which in `src/cmap/connection_pool.ts` errors each checked-out connection). So we wait.
 */

import { describe } from '../util/errors.ts';

// Only the driver internals we read (mongodb 6 and 7). All optional: a missing one counts as idle.
export interface ClientLike {
  s?: { activeSessions?: Set<unknown>; hasBeenClosed?: boolean };
  topology?: { s?: { servers?: Map<string, { pool?: { currentCheckedOutCount?: number; waitQueueSize?: number } }> } };
  /** Set while `connect()` runs; closing then would make that connect reject. */
  connectionLock?: Promise<unknown>;
  on?(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
}

export interface IdleOptions {
  /** How long nothing may start before the client counts as idle, ms. */
  quietMs: number;
  /** Give up after this long (the client is then left open), ms. */
  maxMs: number;
  /** More work the caller knows about (a Mongoose connection's buffered operations). */
  busy?: () => boolean;
}

const POLL_MS = 20;

/** How long an old client must have started nothing before we close it, and how long we wait at most (MongoDB and SQL alike). */
export const CLOSE_QUIET_MS = 100;
export const CLOSE_MAX_MS = 30_000;

/**
 * Operations in flight on `client`: every operation runs inside a session (an implicit one when
 * the caller gave none) from before server selection until its result is in, and a cursor keeps
 * its session until exhausted or closed. Checked-out connections and waiters are counted too.
 */
export function inFlight(client: ClientLike): number {
  let count = client.s?.activeSessions?.size ?? 0;
  for (const server of client.topology?.s?.servers?.values() ?? []) {
    count += (server.pool?.currentCheckedOutCount ?? 0) + (server.pool?.waitQueueSize ?? 0);
  }
  if (client.connectionLock) count++;
  return count;
}

/**
 * Calls `then(true)` once `client` has had nothing in flight, and started nothing, for `quietMs`
 * (new work shows as a connection check-out, which the driver always emits on the client), or
 * `then(false)` if that did not happen within `maxMs`. The quiet period covers a request that
 * awaits one operation and then starts the next on the same old client. `then` runs in the very
 * job that saw the client idle (not a later microtask), so nothing can start in between.
 */
export function whenIdle(client: ClientLike, { quietMs, maxMs, busy }: IdleOptions, then: (idle: boolean) => void): void {
  const started = Date.now();
  let lastActive = started;
  let confirming = false;
  const active = () => {
    lastActive = Date.now();
  };
  client.on?.('connectionCheckOutStarted', active);
  const idleNow = (now: number) => {
    const working = inFlight(client) > 0 || !!busy?.();
    if (working) lastActive = now;
    return !working && now - lastActive >= quietMs;
  };
  const finish = (idle: boolean) => {
    clearInterval(timer);
    client.off?.('connectionCheckOutStarted', active);
    then(idle);
  };
  // Timers run before the I/O that became ready while the loop was blocked (an evaluation, a
  // GC): a request holding the old client may be about to use it. So an idle check is confirmed
  // in this loop turn's check phase, after that I/O and what it started synchronously have run.
  const confirm = () => {
    confirming = false;
    if (idleNow(Date.now())) finish(true);
  };
  const check = () => {
    if (confirming) return;
    const now = Date.now();
    if (idleNow(now)) {
      confirming = true;
      setImmediate(confirm);
    } else if (now - started >= maxMs) finish(false);
  };
  const timer = setInterval(check, POLL_MS);
  // The client's own sockets keep the process up while it is open; our timer need not.
  timer.unref?.();
}

/**
 * Closes `client` once it is idle (see {@link whenIdle}); a client still busy after `maxMs` is left
 * open, with a warning. `what` names it in the log: `previous MongoClient`.
 */
export function closeWhenIdle(
  client: ClientLike,
  close: () => Promise<unknown>,
  { what, log, ...options }: IdleOptions & { what: string; log: (message: string) => void },
): void {
  whenIdle(client, options, (idle) => {
    if (!idle) return log(`left a ${what} open: it still had operations in flight ${options.maxMs / 1000} s after its file re-evaluated`);
    close().catch((error: unknown) => log(`closing a ${what} failed: ${describe(error)}`));
  });
}
