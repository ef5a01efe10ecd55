import { isAbsolute, join } from 'node:path';
import type { RuntimeOptions } from '../runtime/config.ts';
import { debug } from '../util/log.ts';
import { describe } from '../util/errors.ts';
import { Activity } from './activity.ts';
import { ReloadBatch } from './batch.ts';
import { formatMemoryLine } from './format.ts';
import { GenerationCounter } from './generations.ts';
import { measureWhenQuiet } from './measure.ts';
import { appendReport, type ReleaseAction, type ReloadRecord } from './report.ts';
import { SideEffects, type Evaluating } from './side-effects.ts';
import { traceOldGenerations, type TracedSubject } from './trace.ts';
import { LeakDetector } from './verdict.ts';
import { thoroughHeapUsed } from './gc.ts';

/** Where models registered outside any tracked file (a library, a bootstrap) are counted. */
export const OUTSIDE = '(outside tracked files)';

/**
 * What reloads did to memory: the batch of evaluations under way, generations counted through
 * WeakRefs, side effects, the leak verdict, the memory line, the report. The runtime tells it what
 * happened; it never calls the runtime back, except for the one `sweep` it is handed.
 */
export class Ledger {
  /** Live generations of each model, by name. */
  readonly generations = new GenerationCounter();
  /** Live evaluations of each file's module scope, by file. */
  readonly scopes = new GenerationCounter();
  /** Timers, listeners, servers and sockets started by tracked files' top level. */
  readonly sideEffects: SideEffects;
  readonly #options: () => RuntimeOptions;
  /** Runs once per batch before it is measured (the runtime's sweep for registrations no hook saw). */
  readonly #beforeMeasure: () => void;
  readonly #activity = new Activity();
  readonly #listeners = new Set<(record: ReloadRecord) => void>();
  readonly #warned = new Set<string>();
  #detector: LeakDetector;
  #batch = new ReloadBatch();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the batch's quiet time ends (performance.now() time). */
  #dueAt = 0;
  #reloads = 0;
  /** Dev servers started in this process (a config change restarts Vite's server in place). */
  #servers = 1;
  #firstHeap: number | undefined;
  #lastHeap: number | undefined;
  /** Heap after GC of the last reloads, for the memory line's sparkline. */
  #heaps: number[] = [];
  /** Resolves when the batch being measured has been reported (tests and tools wait on it). */
  #flushing: Promise<ReloadRecord | undefined> = Promise.resolve(undefined);
  /** When a module last evaluated (performance.now() time). */
  #changedAt = 0;
  /** While a measurement waits for the server to be idle: makes it measure now. */
  #hurry: (() => void) | undefined;

  constructor(options: () => RuntimeOptions, evaluating: Evaluating, beforeMeasure: () => void) {
    this.#options = options;
    this.#beforeMeasure = beforeMeasure;
    this.sideEffects = new SideEffects(evaluating);
    this.#detector = new LeakDetector(options().leakAfter);
  }

  get server(): number {
    return this.#servers;
  }

  /** A new `leakAfter`: the detector starts over. */
  configure(leakAfter: number): void {
    if (leakAfter !== this.#detector.after) this.#detector = new LeakDetector(leakAfter);
  }

  /** Starts reload numbering and heap deltas afresh: a new dev server in this process. */
  restart(): void {
    this.#servers++;
    this.#reloads = 0;
    this.#firstHeap = undefined;
    this.#lastHeap = undefined;
    this.#heaps = [];
    this.#detector = new LeakDetector(this.#options().leakAfter);
  }

  onReport(listener: (record: ReloadRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A tracked value (a model) of one generation of `file`; `committed`: of its live generation, just committed (counted from the next read). */
  track(label: string, value: unknown, file: string, generation: number, committed = false): void {
    this.generations.track(label, value, file, generation, this.#servers, committed);
  }

  /** `handle` lives in the module's scope of `file`'s generation just committed: while it does, so does that evaluation. */
  trackScope(file: string, handle: object, generation: number): void {
    this.scopes.track(file, handle, file, generation, this.#servers, true);
  }

  /** The file was deleted: whatever still holds its last generation is not a reload leak. */
  forget(file: string): void {
    this.generations.forget(file);
    this.scopes.forget(file);
  }

  evaluated(file: string, purged: { adapter: string; label?: string; track?: boolean }[], ms: number, isReload: boolean, edited = true): void {
    this.#changedAt = performance.now();
    // From the app's first evaluation: by its first reload, requests already in flight are known.
    this.#activity.start();
    this.#batch.evaluated(file, purged, ms, isReload, edited);
    this.#schedule();
  }

  failed(file: string, ms: number): void {
    this.#changedAt = performance.now();
    this.#batch.failedOn(file, ms);
    this.#schedule();
  }

  released(adapter: string, name: string, action: ReleaseAction): void {
    this.#batch.release(adapter, name, action);
  }

  /**
   * Resolves with the next report once the current batch is measured (undefined if none is due),
   * measuring now: without waiting for the quiet period or for the server to be idle.
   */
  async settled(): Promise<ReloadRecord | undefined> {
    this.#hurry?.();
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#flushing = this.#flush(true);
    }
    return this.#flushing;
  }

  /**
   * "Who holds it": the shortest strong path from a GC root to the oldest old generation of each
   * subject (model names or files; by default all with more than one generation alive), printed
   * and returned. Takes a heap snapshot: blocks the process for seconds.
   */
  trace(subjects?: string[]): Promise<TracedSubject[]> {
    const options = this.#options();
    return traceOldGenerations(subjects ?? [...this.generations.piledUp(), ...this.scopes.piledUp()], {
      models: this.generations,
      scopes: this.scopes,
      dir: join(options.root, 'node_modules', '.cache', 'orm-hmr'),
      keep: options.trace === 'keep',
      log: (level, message) => options.logger[level](message),
    });
  }

  /** The batch ends settleMs after its last evaluation: one timer, pushed back by reading #dueAt when it fires (not re-armed per evaluation). */
  #schedule(): void {
    this.#dueAt = performance.now() + this.#options().settleMs;
    if (!this.#timer) this.#arm(this.#options().settleMs);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const wait = this.#dueAt - performance.now();
      if (wait >= 1) return this.#arm(wait);
      this.#timer = undefined;
      this.#flushing = this.#flush(false);
    }, ms);
    this.#timer.unref?.();
  }

  /** Measures and reports the batch that just settled. Runs off any request's path (a timer). */
  async #flush(now: boolean): Promise<ReloadRecord | undefined> {
    const previous = await this.#flushing;
    // A timer that fired while the previous flush waited: that flush took this batch's evaluations.
    if (this.#batch.files.size === 0) return previous;
    const batch = this.#takeBatch();
    this.generations.holdWeakly();
    this.scopes.holdWeakly();
    if (!batch.isReload) return undefined;
    const options = this.#options();
    this.#beforeMeasure();
    const count = () => ({ models: this.generations.count(), files: this.scopes.count() });
    let alive = count();
    const atOne = () => [alive.models, alive.files].every((c) => Object.values(c).every((n) => n <= 1));
    // Another full GC helps only while the last one still freed old generations: stop when every
    // model and file is down to one, or when a round changed nothing (something holds them; say
    // so, don't keep blocking the event loop).
    let gcRound = 0;
    let hurried = now;
    const hurry = new Promise<void>((resolve) => (this.#hurry = () => ((hurried = true), resolve())));
    const measured = await measureWhenQuiet(this.#activity, {
      enabled: options.gc,
      now: () => hurried,
      hurried: hurry,
      settled: () => {
        const previous = JSON.stringify(alive);
        alive = count();
        gcRound++;
        // The first round is compared with a count taken before any GC (garbage included): only a
        // later round can show the counts settled. Otherwise a previous generation that a job still
        // running held is counted as alive: a rise that is a measurement error, not a leak.
        return atOne() || (gcRound > 1 && JSON.stringify(alive) === previous);
      },
      changedAt: () => this.#changedAt,
      atOne: () => {
        alive = count();
        return atOne();
      },
    });
    this.#hurry = undefined;
    // Counted after a GC: the evaluations that came while we waited are in these counts, so they
    // are this record's too (a double evaluation split across two records would break the
    // verdict's run of rises). Without counts, they stay for the next record, which will have them.
    if (measured.collected) batch.absorb(this.#takeBatch());
    const models = this.generations.census(this.#servers);
    const files = this.scopes.census(this.#servers);
    alive = { models: models.all, files: files.all };
    const sideEffects = this.sideEffects.count();
    const memory = process.memoryUsage();
    const reload = ++this.#reloads;
    this.#firstHeap ??= memory.heapUsed;
    const record: ReloadRecord = {
      reload,
      time: new Date().toISOString(),
      files: [...batch.files],
      purged: batch.purged,
      purgeMs: round(batch.purgeMs, 3),
      failed: [...batch.failed],
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      rss: memory.rss,
      external: memory.external,
      heapDelta: memory.heapUsed - (this.#lastHeap ?? memory.heapUsed),
      heapDeltaFromFirst: memory.heapUsed - this.#firstHeap,
      gc: measured.collected,
      gcBy: measured.by,
      gcMs: round(measured.gcMs, 2),
      gcRounds: measured.rounds,
      alive: alive.models,
      generations: alive.files,
      released: [...batch.released.values()],
      sideEffects,
      verdict: 'unknown',
      warnings: [],
    };
    if (measured.collected) {
      this.#detector.tracing = !!options.trace;
      // Only our forced GC leaves a heap worth comparing: after V8's own, garbage made since is in it.
      const heapUsed = measured.by === 'forced' ? memory.heapUsed : undefined;
      const thorough = this.#detector.wantsThorough(heapUsed) ? ((await thoroughHeapUsed()) ?? heapUsed) : undefined;
      const judged = this.#detector.judge({
        reload,
        heapUsed,
        thorough,
        files: record.files,
        edited: [...batch.edited],
        alive: models.since,
        modelFiles: models.newestFile,
        generations: files.since,
        sideEffects: sideEffects.map((effect) => ({ effect, generations: this.sideEffects.generationsOf(effect) })),
      });
      record.warnings = judged.warnings;
      if (judged.stopped.length > 0) record.stopped = judged.stopped;
      record.verdict = judged.verdict;
      this.#heaps = [...this.#heaps.slice(-15), memory.heapUsed];
    }
    this.#lastHeap = memory.heapUsed;
    const log = options.logger;
    if (options.memoryLine) log.info(formatMemoryLine(record, undefined, this.#heaps));
    for (const warning of record.warnings) log.warn(warning.message);
    for (const stop of record.stopped ?? []) log.info(stop.message);
    if (options.trace && record.warnings.some((w) => w.kind !== 'heap')) {
      const subjects = record.warnings.filter((w) => w.kind !== 'heap').flatMap((w) => [w.subject, w.file ?? w.subject]);
      record.retainerPath = (await this.trace(subjects))[0]?.path;
    }
    if (measured.collected) this.#explainOldGenerations(alive.models);
    const report = options.report;
    if (report) {
      const path = isAbsolute(report) ? report : `${options.root}/${report}`;
      await appendReport(path, record).catch((error) => this.#warnOnce(`report|${path}`, `cannot write the report to ${path}: ${describe(error)}`));
    }
    for (const listener of this.#listeners) listener(record);
    return record;
  }

  /** The batch so far, for a record; the next evaluation starts a new one. Its timer is moot. */
  #takeBatch(): ReloadBatch {
    const batch = this.#batch;
    this.#batch = new ReloadBatch();
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return batch;
  }

  /** Old generations that outlived a dev server restart are held by something outside us: say so, once. */
  #explainOldGenerations(alive: Record<string, number>): void {
    for (const [name, count] of Object.entries(alive)) {
      if (count <= 1) continue;
      const live = this.generations.describe(name);
      debug(() => `${name}: ${count} generations alive after GC (${live.map((g) => `${g.file}#${g.generation}`).join(', ')})`);
      const fromOldServers = live.filter((g) => g.server < this.#servers).length;
      if (fromOldServers > 0) {
        this.#warnOnce(
          `restart|${this.#servers}`,
          `${name}: ${fromOldServers} of ${count} live generations come from before the dev server restarted. Something outside orm-hmr keeps a previous server and the modules it loaded alive (Vite's in-place restart keeps the first server's module graph; SvelteKit 2 keeps every one). Restart the process to free it.`,
        );
      }
    }
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#options().logger.warn(message);
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
