import { CLOSE_MAX_MS, CLOSE_QUIET_MS, closeWhenIdle } from './idle.ts';

/**
 * Closes a SQL client once `busy()` has been false for {@link CLOSE_QUIET_MS}: the same rule as the
 * MongoDB adapter's, judged by the driver's own counters, which `busy` reads. The quiet period
 * covers a request that awaits one query on the old client and then starts the next.
 */
export function closeWhenQuiet(busy: () => boolean, close: () => Promise<unknown> | unknown, what: string, log: (message: string) => void): void {
  closeWhenIdle({}, async () => close(), { busy, quietMs: CLOSE_QUIET_MS, maxMs: CLOSE_MAX_MS, what, log });
}
