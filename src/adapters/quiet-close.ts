import { closeWhenIdle } from './idle.ts';

/** How long an old SQL client must have had nothing in flight before we close it, and how long we wait at most. */
export const SQL_QUIET_MS = 100;
export const SQL_MAX_MS = 30_000;

/**
 * Closes a SQL client once `busy()` has been false for {@link SQL_QUIET_MS}: the same rule as the
 * MongoDB adapter's, judged by the driver's own counters, which `busy` reads. The quiet period
 * covers a request that awaits one query on the old client and then starts the next.
 */
export function closeWhenQuiet(busy: () => boolean, close: () => Promise<unknown> | unknown, what: string, log: (message: string) => void): void {
  closeWhenIdle({}, async () => close(), { busy, quietMs: SQL_QUIET_MS, maxMs: SQL_MAX_MS, what, log });
}
