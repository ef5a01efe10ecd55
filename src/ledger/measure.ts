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
  /** When a module last evaluated (performance.now() time): only a GC after it counts its old generation. */
  changedAt: () => number;
}

/** How long the server must have served nothing before we pause it for a GC, ms. */
export const QUIET_MS = 200;
/** How often we look, ms. */
const POLL_MS = 50;
/** How long a busy server waits for its line, ms. */
export const PATIENCE_MS = 30_000;
/** How long after the last evaluation V8's own GC must come to count on a busy server, ms. */
const SETTLE_MS = 1_000;

/**
 * Waits for the moment to count generations. A forced full GC stops the world (40 ms at a 50 MB
 * heap, 200 ms to seconds at 200 MB), so we never force one while a request is being served: we
 * count after V8's own next major GC when it leaves every model and file at one generation, or
 * force one once the server has served nothing for QUIET_MS. A server busy for PATIENCE_MS gets
 * the counts after V8's own major GC if one came at least SETTLE_MS after the last evaluation, and
 * otherwise its line without counts after GC (the line says so): never a pause. On a busy server,
 * a batch that newer evaluations followed for SETTLE_MS goes out the same way.
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
    const since = Math.max(started, options.changedAt());
    const byV8 = activity.majorGcSince(since);
    // Healthy: V8 collected the old generations by itself; nothing to force.
    if (byV8 && options.atOne()) return { collected: true, gcMs: 0, rounds: 0, by: 'v8' };
    // Something still holds an old generation (or V8 did not look yet): confirm with a forced GC,
    // while nobody waits.
    if (activity.idleFor(QUIET_MS)) return { ...(await collectGarbage(options.settled, 4, true)), by: 'forced' };
    const waited = performance.now() - started;
    // Saves keep coming on a busy server: this line goes out now, without counts after GC, and
    // those saves get the next one; under steady traffic a line every second or so, not one line
    // half a minute later.
    if (waited > SETTLE_MS && options.changedAt() > started) return { collected: false, gcMs: 0, rounds: 0, by: 'none' };
    // A busy server: V8's own GC, once things had a second to settle after the last evaluation
    // (an old app still closing holds its generation for a moment).
    if (waited > PATIENCE_MS) {
      return activity.majorGcSince(since + SETTLE_MS) ? { collected: true, gcMs: 0, rounds: 0, by: 'v8' } : { collected: false, gcMs: 0, rounds: 0, by: 'none' };
    }
  }
}
