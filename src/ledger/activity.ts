import { subscribe } from 'node:diagnostics_channel';
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** A request in flight this long is a stream (server-sent events, a long poll), not work to wait for. */
const LONG_LIVED_MS = 10_000;

/**
 * What the process is doing, so the ledger can count generations without making anyone wait:
 * V8's own major GCs (after one, the counts mean what they mean after a forced GC), and the HTTP
 * requests of every server in the process (Node's `http.server.request.start` and
 * `http.server.response.finish` diagnostics channels), so a GC we force lands while nobody waits.
 */
export class Activity {
  /** When the last major GC started (performance.now() time); entries arrive after the fact. */
  #lastMajorGc = -Infinity;
  /** Requests in flight, by request object, with when they started. */
  readonly #inFlight = new Map<object, number>();
  #lastChange = 0;
  #started = false;

  /** Starts watching (idempotent); nothing is watched until the first measurement needs it. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#lastChange = performance.now();
    try {
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
          if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.#lastMajorGc = Math.max(this.#lastMajorGc, entry.startTime);
        }
      });
      observer.observe({ entryTypes: ['gc'] });
    } catch {
      // No GC entries here: the ledger waits for the server to be idle instead.
    }
    subscribe('http.server.request.start', (message) => {
      const { request } = message as { request: object };
      this.#inFlight.set(request, performance.now());
      this.#lastChange = performance.now();
    });
    subscribe('http.server.response.finish', (message) => {
      const { request } = message as { request: object };
      this.#inFlight.delete(request);
      this.#lastChange = performance.now();
    });
  }

  /**
   * Whether a major GC (V8's own, or ours) started after `time` (performance.now() time). By start
   * time, not by count: the entry of a GC we forced for the previous batch may arrive late.
   */
  majorGcSince(time: number): boolean {
    return this.#lastMajorGc > time;
  }

  /** No request started or finished for `ms`, and none in flight but long-lived streams. */
  idleFor(ms: number): boolean {
    const now = performance.now();
    if (now - this.#lastChange < ms) return false;
    for (const [request, started] of this.#inFlight) {
      if (now - started < LONG_LIVED_MS) return false;
      // A stream, or a request whose client went away without an end: not worth waiting for.
      this.#inFlight.delete(request);
    }
    return true;
  }
}
