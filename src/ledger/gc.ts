import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as settle } from 'node:timers/promises';

type Gc = () => void;
let cached: Gc | null | undefined;

/**
 * A full, stop-the-world GC. `--expose-gc` may be off, so we turn the flag on and take `gc` from a
 * fresh context (the flag only affects contexts created after it). We call it with no argument:
 * on Node 20 `gc({ type: 'major' })` runs a minor GC only.
 */
export function getGc(): Gc | null {
  if (cached !== undefined) return cached;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (cached = () => (exposed as Gc)());
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    cached = typeof gc === 'function' ? () => (gc as Gc)() : null;
  } catch {
    cached = null;
  }
  return cached;
}

export interface CollectResult {
  /** Time spent inside `gc()` calls, summed. */
  gcMs: number;
  rounds: number;
  /** Whether a GC ran at all (false when turned off or unavailable). */
  collected: boolean;
}

/**
 * Runs full GCs until `done()` says the heap has settled, at most `maxRounds` times. Between rounds we
 * yield to the event loop: a WeakRef that was dereferenced keeps its target alive until the current
 * job ends, so counting in the same job as the GC would count the dead as alive.
 */
export async function collectGarbage(done: () => boolean, maxRounds = 4, enabled = true): Promise<CollectResult> {
  const gc = enabled ? getGc() : null;
  if (!gc) {
    await settle();
    return { gcMs: 0, rounds: 0, collected: false };
  }
  let gcMs = 0;
  let rounds = 0;
  while (rounds < maxRounds) {
    await settle();
    const start = performance.now();
    gc();
    gcMs += performance.now() - start;
    rounds++;
    await settle();
    if (done()) break;
  }
  return { gcMs, rounds, collected: true };
}


/**
 * The heap in use after V8's most thorough collection, the one a heap snapshot starts with: it
 * also empties the compilation cache and what a plain `gc()` keeps for a while. On Node 20, a
 * plain `gc()` leaves 0.1–0.3 MB per reload of a clean model file there, a steady climb that looks
 * like a leak and is not one. `gc({ flavor: 'last-resort' })` is ignored on Node 20, so we ask the
 * inspector (`HeapProfiler.collectGarbage`: V8's low-memory notification; no debugger attached).
 * Undefined where the inspector is missing. 50–80 ms at a 45 MB heap: for confirming, not sampling.
 */
export async function thoroughHeapUsed(): Promise<number | undefined> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch {
    return undefined;
  }
  const session = new inspector.Session();
  try {
    session.connect();
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (error) => (error ? reject(error) : resolve())));
  } catch {
    return undefined;
  } finally {
    session.disconnect();
  }
  await settle();
  return process.memoryUsage().heapUsed;
}
