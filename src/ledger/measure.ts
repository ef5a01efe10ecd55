import { setTimeout as sleep } from 'node:timers/promises';
import type { Activity } from './activity.ts';
import { collectGarbage, type CollectResult } from './gc.ts';

export interface Measurement extends CollectResult {
  /** What collected the garbage before counting: our forced GC, V8's own major GC, or nothing. */
  by: 'forced' | 'v8' | 'none';
}

export interface MeasureOptions {
  /** GC at all (the `gc` option). */
  enabled: boolean;
  /** Force it now (`settled()`: a tool or test asked for the record); may turn true while waiting. */
  now: () => boolean;
  /** Resolves when `now` turned true, to stop waiting at once. */
  hurried: Promise<void>;
  /** Between forced GC rounds: whether another round is useless (every count at one, or none changed). */
  settled: () => boolean;
  /** Whether every model and file is down to one generation (counts the live WeakRefs). */
  atOne: () => boolean;
}

/** How long the server must have served nothing before we pause it for a GC, ms. */
export const QUIET_MS = 200;
/** How often we look, ms. */
const POLL_MS = 50;
/** A server busy this long gets the counts after V8's last major GC, whatever they are, ms. */
export const PATIENCE_MS = 5_000;
/** A server busy this long with no major GC at all gets a record without one (the line says so), ms. */
export const MAX_WAIT_MS = 60_000;

/**
 * Waits for the moment to count generations. A forced full GC stops the world (40 ms at a 50 MB
 * heap, 200 ms to seconds at 200 MB), so we never force one while a request is being served: we
 * count after V8's own next major GC when it leaves every model and file at one generation, or
 * force one once the server has served nothing for QUIET_MS. A server that stays busy takes the
 * counts after V8's own major GC once PATIENCE_MS have passed (an old generation an in-flight
 * request holds counts then), and one with no major GC in MAX_WAIT_MS gets no counts after GC.
 */
export async function measureWhenQuiet(activity: Activity, options: MeasureOptions): Promise<Measurement> {
  if (!options.enabled) return { ...(await collectGarbage(options.settled, 0, false)), by: 'none' };
  activity.start();
  const started = performance.now();
  for (;;) {
    if (options.now()) return { ...(await collectGarbage(options.settled, 4, true)), by: 'forced' };
    // Unref'd: a process with nothing else to do may end while we wait.
    await Promise.race([sleep(POLL_MS, undefined, { ref: false }), options.hurried]);
    if (options.now()) continue;
    const byV8 = activity.majorGcSince(started);
    // Healthy: V8 collected the old generations by itself; nothing to force.
    if (byV8 && options.atOne()) return { collected: true, gcMs: 0, rounds: 0, by: 'v8' };
    // Something still holds an old generation (or V8 did not look yet): confirm with a forced GC,
    // while nobody waits.
    if (activity.idleFor(QUIET_MS)) return { ...(await collectGarbage(options.settled, 4, true)), by: 'forced' };
    const waited = performance.now() - started;
    if (byV8 && waited > PATIENCE_MS) return { collected: true, gcMs: 0, rounds: 0, by: 'v8' };
    if (waited > MAX_WAIT_MS) return { collected: false, gcMs: 0, rounds: 0, by: 'none' };
  }
}
