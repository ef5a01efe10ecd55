import { isAbsolute, join, relative, sep } from 'node:path';
import type { Adapter, AdapterContext } from '../adapters/types.ts';
import { builtinAdapterNames, isBuiltinAdapterName, toAdapters, type BuiltinAdapterName } from '../adapters/builtin.ts';
import { countAfterGc } from '../ledger/gc.ts';
import { GenerationCounter } from '../ledger/generations.ts';
import { SideEffects } from '../ledger/side-effects.ts';
import { LeakDetector } from '../ledger/verdict.ts';
import { formatMemoryLine } from '../ledger/format.ts';
import { traceOldGenerations, type TracedSubject } from '../ledger/trace.ts';
import { appendReport, type ReloadRecord } from '../ledger/report.ts';
import { ReloadBatch } from './batch.ts';
import { SlotMap, isHeld, removeEntry, sameSlot, type OwnedEntry } from './entries.ts';
import { consoleLogger, debug, type Logger } from './log.ts';
import { cleanId } from '../transform/id.ts';

export { cleanId } from '../transform/id.ts';
import type { Evaluation, ModuleRecord } from './module-record.ts';

/** Runtime settings; the Vite and webpack plugins fill them in, `configure()` changes them. */
export interface RuntimeOptions {
  /** Project root: file names in logs and reports are relative to it. @default process.cwd() */
  root: string;
  /** JSONL report path (relative to `root`), or false. @default process.env.ORM_HMR_REPORT */
  report: string | false;
  /** Force a full GC before measuring, so heap and generation counts mean something. @default true */
  gc: boolean;
  /** Quiet time that ends a reload batch, ms. @default 100 */
  settleMs: number;
  /** Print the memory line after each reload batch. @default true */
  memoryLine: boolean;
  /** Stop the timers, listeners, servers and sockets a file's top level started, before it evaluates again. @default false */
  undoSideEffects: boolean;
  /** Reloads after which an old generation still alive (or side effects piling up) is reported as a leak. @default 3 */
  leakAfter: number;
  /** Find who holds old generations (a heap snapshot) when a leak is reported; `keep` keeps the snapshot file. @default false */
  trace: boolean | 'keep';
  logger: Logger;
}

/** What `enter()` hands back to the module; the epilogue calls `commit()`. */
export interface EvaluationHandle {
  /** `scope` is a closure over the module's top level; the runtime never calls or keeps it. */
  commit(scope?: () => unknown): void;
}

export interface EnterOptions {
  /** Namespaces of adapter packages the module imports, by specifier. */
  imports?: Record<string, unknown>;
  /** The module has top-level await: its epilogue may run in a later job. */
  async?: boolean;
  /** A hash of its source: the same version evaluated again (in another bundle) is no edit. */
  version?: string;
}

const NOOP_HANDLE: EvaluationHandle = { commit() {} };

/**
 * The registry of modules and what they registered, shared by every copy of this file loaded in
 * the process (see hook.ts). All state lives here.
 */
export class Runtime {
  options: RuntimeOptions;
  /** The settings this process started with (from the environment): what an unset plugin option means. */
  readonly defaults: Readonly<RuntimeOptions>;
  /** The built-in adapters this process starts with: all, or those a parent process chose. */
  readonly defaultAdapters: readonly BuiltinAdapterName[];
  readonly adapters: Adapter[] = [];
  /** Every tracked module by id. Records stay until their file is deleted; they hold only the live generation. */
  readonly records = new Map<string, ModuleRecord>();
  /** Which record's live generation holds each entry. */
  readonly owners = new SlotMap<{ record: ModuleRecord; entry: OwnedEntry }>();
  readonly generations = new GenerationCounter();
  /** Live evaluations of each file's module scope, by file. */
  readonly scopes = new GenerationCounter();
  /** Timers, listeners, servers and sockets started by tracked files' top level. */
  readonly sideEffects = new SideEffects(() => {
    // Our own timers (an idle wait before closing a client, the batch timer) are nobody's side effect.
    if (this.#internal > 0) return undefined;
    const evaluation = this.#evaluating.at(-1);
    return evaluation && { file: this.#file(evaluation.record.id), generation: evaluation.number };
  });
  #detector: LeakDetector;
  /** Evaluations between prologue and epilogue, innermost last. */
  readonly #evaluating: Evaluation[] = [];
  /** Adapters we already tried to require from a module's folder (by adapter name). */
  readonly #required = new Set<string>();
  readonly #warned = new Set<string>();
  readonly #context: AdapterContext;
  #batch = new ReloadBatch();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Depth of our own bookkeeping on the stack (prologue, epilogue, unload): no user code runs then. */
  #internal = 0;
  #reloads = 0;
  /** Dev servers started in this process (a config change restarts Vite's server in place). */
  #servers = 1;
  #firstHeap: number | undefined;
  /** Heap after GC of the last reloads, for the memory line's sparkline. */
  #heaps: number[] = [];
  #lastHeap: number | undefined;
  /** Resolves when the batch being measured has been reported (tests and tools wait on it). */
  #flushing: Promise<ReloadRecord | undefined> = Promise.resolve(undefined);
  readonly #listeners = new Set<(record: ReloadRecord) => void>();
  disabled = false;

  constructor() {
    // Environment first: a bundler plugin sets these for an app it forks into another process.
    const env = globalThis.process?.env ?? {};
    this.options = {
      root: env.ORM_HMR_ROOT || globalThis.process?.cwd?.() || '/',
      report: env.ORM_HMR_REPORT || false,
      gc: env.ORM_HMR_GC !== '0',
      settleMs: Number(env.ORM_HMR_SETTLE_MS) >= 0 && env.ORM_HMR_SETTLE_MS ? Number(env.ORM_HMR_SETTLE_MS) : 100,
      memoryLine: env.ORM_HMR_MEMORY_LINE !== '0',
      undoSideEffects: env.ORM_HMR_UNDO_SIDE_EFFECTS === '1',
      leakAfter: Number(env.ORM_HMR_LEAK_AFTER) >= 1 ? Number(env.ORM_HMR_LEAK_AFTER) : 3,
      trace: env.ORM_HMR_TRACE === 'keep' ? 'keep' : env.ORM_HMR_TRACE === '1',
      logger: consoleLogger(),
    };
    this.defaults = { ...this.options };
    this.#context = { conflict: (label) => this.#conflict(label), log: (level, message) => this.#log(level, message) };
    this.#detector = new LeakDetector(this.options.leakAfter);
    // A forked app gets the plugin's choice of built-in adapters through the environment.
    this.defaultAdapters = env.ORM_HMR_ADAPTERS?.split(',').filter(isBuiltinAdapterName) ?? builtinAdapterNames;
    this.adapters.push(...toAdapters(this.defaultAdapters));
  }

  configure(options: Partial<RuntimeOptions>): void {
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined) (this.options as unknown as Record<string, unknown>)[key] = value;
    }
    if (options.leakAfter !== undefined && options.leakAfter !== this.#detector.after) this.#detector = new LeakDetector(options.leakAfter);
  }

  /** Starts reload numbering and heap deltas afresh: a new dev server in this process. */
  restartLedger(): void {
    this.#servers++;
    this.#reloads = 0;
    this.#firstHeap = undefined;
    this.#lastHeap = undefined;
    this.#heaps = [];
    this.#detector = new LeakDetector(this.options.leakAfter);
  }

  /** Uses exactly these adapters (the `adapters` option): built-in names or adapter objects. */
  chooseAdapters(chosen: readonly (BuiltinAdapterName | Adapter)[]): void {
    // A built-in one already running keeps what it found (the app's ORM instances).
    const adapters = chosen.map((item) => (typeof item === 'string' && this.adapters.find((a) => a.name === item)) || toAdapters([item])[0]!);
    this.adapters.splice(0, this.adapters.length);
    for (const adapter of adapters) this.use(adapter);
  }

  /** Adds an adapter; one with the same name replaces the old one. */
  use(adapter: Adapter): void {
    const index = this.adapters.findIndex((a) => a.name === adapter.name);
    if (index >= 0) this.adapters[index] = adapter;
    else this.adapters.push(adapter);
  }

  /** Packages the adapters handle: what marks a module as one to wrap. */
  packages(): string[] {
    return this.adapters.flatMap((adapter) => [...(adapter.packages ?? [])]);
  }

  /** Called in a reload batch's report, after measuring. Returns the unsubscribe. */
  onReport(listener: (record: ReloadRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The prologue: purge what this file registered last time, then watch what it registers now. */
  enter(rawId: string, options: EnterOptions = {}): EvaluationHandle {
    if (this.disabled) return NOOP_HANDLE;
    return this.#ours(() => this.#enter(rawId, options));
  }

  #enter(rawId: string, options: EnterOptions): EvaluationHandle {
    const start = performance.now();
    const id = cleanId(rawId);
    this.#attach(id, options.imports ?? {});

    let record = this.records.get(id);
    if (!record) this.records.set(id, (record = { id, evaluations: 0, failures: 0 }));
    // A previous evaluation that never reached its epilogue (top-level await that threw).
    if (record.pending) this.#fail(record.pending);

    const purged = record.current?.entries ?? [];
    const undo = this.#purge(record);

    const evaluation: Evaluation = {
      record,
      number: ++record.evaluations,
      before: this.#snapshot(),
      purged,
      undo,
      unload: [],
      bookkeepingMs: 0,
      async: !!options.async,
      version: options.version,
    };
    record.pending = evaluation;
    this.sideEffects.watch();
    this.#evaluating.push(evaluation);
    // Without top-level await the body runs in this very job: if the epilogue has not run by the
    // next microtask, the body threw. (The module's own rejection is queued after this check.)
    // A module with top-level await goes on in later jobs, between other code's: side effects are
    // only attributed during its synchronous start.
    if (options.async) queueMicrotask(() => this.#unwatchOutsideEvaluations());
    if (!options.async) {
      queueMicrotask(() => {
        if (record.pending === evaluation) this.#ours(() => this.#fail(evaluation));
      });
    }
    evaluation.bookkeepingMs += performance.now() - start;
    // The module keeps this handle in its scope for as long as it lives: it must not keep the
    // evaluation (and through it the previous generation) once committed.
    let open: Evaluation | undefined = evaluation;
    const handle: EvaluationHandle = {
      commit: () => {
        const committing = open;
        open = undefined;
        if (committing) this.#ours(() => this.#commit(committing, handle));
      },
    };
    return handle;
  }

  #ours<T>(work: () => T): T {
    this.#internal++;
    try {
      return work();
    } finally {
      this.#internal--;
    }
  }

  /** Zeitwerk's on_unload: `callback` runs right before the file that is evaluating now evaluates again. */
  onUnload(callback: () => void): void {
    const evaluation = this.#evaluating.at(-1);
    if (!evaluation) {
      throw new Error('orm-hmr: onUnload() must be called while a tracked module evaluates (at its top level)');
    }
    evaluation.unload.push(callback);
  }

  /** The file was deleted: drop what it registered. */
  unload(rawId: string): void {
    this.#ours(() => this.#unload(rawId));
  }

  #unload(rawId: string): void {
    const id = cleanId(rawId);
    const record = this.records.get(id);
    if (!record) return;
    const start = performance.now();
    const purged = record.current?.entries ?? [];
    this.#purge(record);
    this.#release(purged, []);
    this.records.delete(id);
    this.generations.forget(this.#file(id));
    this.scopes.forget(this.#file(id));
    this.#batch.evaluated(this.#file(id), purged, performance.now() - start, true);
    this.#schedule();
  }

  /** Resolves with the next report once the current batch is measured (undefined if none is due). */
  async settled(): Promise<ReloadRecord | undefined> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#flushing = this.#flush();
    }
    return this.#flushing;
  }

  /**
   * `handle` lives in the module's scope (the epilogue's closure makes V8 keep it in the module's
   * context): while it is alive, so is that evaluation's scope, so it counts the file's generations.
   */
  #commit(evaluation: Evaluation, handle: EvaluationHandle): void {
    const { record } = evaluation;
    if (record.pending !== evaluation) return;
    const start = performance.now();
    const fresh = this.#registeredSince(evaluation);
    const purged = this.#finish(evaluation);
    for (const entry of fresh) {
      const previous = this.owners.get(entry);
      if (previous && previous.record !== record) this.#takeOver(previous.record, record, entry);
      this.owners.set(entry, { record, entry });
    }
    record.current = { number: evaluation.number, entries: fresh, unload: evaluation.unload };
    // What the new generation reused (taken back through a global) is now its own.
    for (const entry of this.#release(purged, fresh)) {
      record.current.entries.push(entry);
      this.owners.set(entry, { record, entry });
    }
    for (const adapter of this.adapters) {
      if (!adapter.committed) continue;
      try {
        adapter.committed(fresh.filter((entry) => entry.adapter === adapter.name));
      } catch (error) {
        this.#warnOnce(`committed|${adapter.name}`, `adapter ${adapter.name} failed after an evaluation: ${describe(error)}`);
      }
    }
    record.pending = undefined;
    record.failures = 0;
    const edited = evaluation.version === undefined || evaluation.version !== record.version;
    record.version = evaluation.version;
    const file = this.#file(record.id);
    for (const entry of fresh) {
      if (entry.track && entry.label !== undefined) this.generations.track(entry.label, entry.trackedValue ?? entry.value, file, evaluation.number, this.#servers);
    }
    this.scopes.track(file, handle, file, evaluation.number, this.#servers);
    evaluation.bookkeepingMs += performance.now() - start;
    this.#batch.evaluated(file, purged, evaluation.bookkeepingMs, evaluation.number > 1, edited);
    debug(() => `${file} generation ${evaluation.number}: ${fresh.length} entries (${labels(fresh).join(', ')}), purged ${purged.length}`);
    this.#schedule();
  }

  /** The body threw: remove what it managed to register and put the previous generation back. */
  #fail(evaluation: Evaluation): void {
    const { record } = evaluation;
    if (record.pending !== evaluation) return;
    const start = performance.now();
    const failed = this.#registeredSince(evaluation);
    for (const entry of failed) removeEntry(entry);
    const undo = evaluation.undo;
    this.#finish(evaluation);
    for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    // A client the failed body opened is gone for good; the previous one is back and stays open.
    this.#release(failed, record.current?.entries ?? []);
    for (const entry of record.current?.entries ?? []) {
      if (!this.owners.has(entry)) this.owners.set(entry, { record, entry });
    }
    record.pending = undefined;
    record.failures++;
    const file = this.#file(record.id);
    if (record.failures === 1) {
      const kept = labels(record.current?.entries ?? []);
      this.#log(
        'warn',
        kept.length > 0
          ? `${file} threw while evaluating (or a module it imports did); kept the previous ${kept.join(', ')} (generation ${record.current!.number}) until it evaluates again`
          : `${file} threw while evaluating (or a module it imports did); nothing of it is registered until it evaluates again`,
      );
    }
    evaluation.bookkeepingMs += performance.now() - start;
    this.#batch.failedOn(file, evaluation.bookkeepingMs);
    this.#schedule();
  }

  /** Entries that appeared (or changed value) since the evaluation began, minus other files' nested evaluations. */
  #registeredSince(evaluation: Evaluation): OwnedEntry[] {
    // An entry listed twice would be handled twice, harmlessly: removal checks the slot first.
    const fresh: OwnedEntry[] = [];
    const before = evaluation.before;
    for (const entry of this.#list()) {
      const was = before.get(entry);
      if (was === entry.value && (was !== undefined || before.has(entry))) continue;
      const owner = this.owners.get(entry);
      if (owner && owner.record !== evaluation.record && owner.entry.value === entry.value) continue;
      fresh.push(entry);
    }
    return fresh;
  }

  /** Another file's entry was replaced (e.g. under `overwriteModels`): warn, and the new file owns it. */
  #takeOver(from: ModuleRecord, to: ModuleRecord, entry: OwnedEntry): void {
    if (from.current) from.current.entries = from.current.entries.filter((e) => !sameSlot(e, entry));
    if (entry.label !== undefined) {
      this.#warnOnce(
        `${entry.adapter}:${entry.label}|${from.id}|${to.id}`,
        `${entry.adapter} ${describeKind(entry)} "${entry.label}" is registered by both ${this.#file(from.id)} and ${this.#file(to.id)}; ${this.#file(to.id)} (evaluated last) now holds it. Keep each name in one file.`,
      );
    }
  }

  /** From an adapter: the evaluating file hit a name another file holds. */
  #conflict(label: string): void {
    const evaluation = this.#evaluating.at(-1);
    if (!evaluation) return;
    for (const { record, entry } of this.owners.values()) {
      if (record === evaluation.record || entry.label !== label) continue;
      this.#warnOnce(
        `conflict|${label}|${record.id}|${evaluation.record.id}`,
        `${entry.adapter} ${describeKind(entry)} "${label}" is registered by both ${this.#file(record.id)} and ${this.#file(evaluation.record.id)}; ${entry.adapter} refuses the second. Keep each name in one file.`,
      );
      return;
    }
  }

  /**
   * Removes what the record's live generation registered, after its `onUnload` callbacks, and
   * returns the undo of each removal (in removal order).
   */
  #purge(record: ModuleRecord): (() => void)[] {
    runCallbacks(record.current?.unload ?? [], (error) => this.#log('error', `onUnload callback of ${this.#file(record.id)} threw: ${describe(error)}`));
    if (this.options.undoSideEffects) {
      const undone = this.sideEffects.undo(this.#file(record.id), Infinity);
      if (undone > 0) debug(() => `${this.#file(record.id)}: stopped ${undone} side effects of its previous generations`);
    }
    const undo: (() => void)[] = [];
    for (const entry of record.current?.entries ?? []) {
      undo.push(removeEntry(entry));
      if (this.owners.get(entry)?.record === record) this.owners.delete(entry);
    }
    return undo;
  }

  /** Takes the evaluation off the stack and lets go of the previous generation it held. Returns what was purged. */
  #finish(evaluation: Evaluation): OwnedEntry[] {
    const index = this.#evaluating.lastIndexOf(evaluation);
    if (index >= 0) this.#evaluating.splice(index, 1);
    this.#unwatchOutsideEvaluations();
    const purged = evaluation.purged;
    evaluation.before = new SlotMap();
    evaluation.purged = [];
    evaluation.undo = [];
    return purged;
  }

  /** Puts Node's functions back once no module body runs synchronously (pending top-level awaits do not count). */
  #unwatchOutsideEvaluations(): void {
    if (this.#evaluating.every((evaluation) => evaluation.async)) this.sideEffects.unwatch();
  }

  /**
   * The previous generation is gone for good: let adapters close what the new one did not take back.
   * Returns the entries an adapter reused that are still registered, and whose place the new
   * generation did not fill: they belong to it now.
   */
  #release(purged: OwnedEntry[], fresh: OwnedEntry[]): OwnedEntry[] {
    const kept = new Set(fresh.map((entry) => entry.value));
    const reused: OwnedEntry[] = [];
    for (const entry of purged) {
      if (!entry.release || kept.has(entry.value)) continue;
      try {
        const action = entry.release();
        if (action) this.#batch.release(entry.adapter, entry.label ?? describeValue(entry.value), action);
        if (action === 'reused' && isHeld(entry) && !fresh.some((other) => sameSlot(other, entry))) reused.push(entry);
      } catch (error) {
        this.#warnOnce(`release|${entry.adapter}`, `adapter ${entry.adapter} failed to release ${entry.label ?? 'an entry'}: ${describe(error)}`);
      }
    }
    return reused;
  }

  #snapshot(): SlotMap<unknown> {
    const snapshot = new SlotMap<unknown>();
    for (const entry of this.#list()) if (!snapshot.has(entry)) snapshot.set(entry, entry.value);
    return snapshot;
  }

  /** Every entry of every adapter, each tagged with its adapter (entries are fresh objects per listing). */
  #list(): OwnedEntry[] {
    const all: OwnedEntry[] = [];
    for (const adapter of this.adapters) {
      try {
        for (const entry of adapter.entries()) {
          (entry as OwnedEntry).adapter = adapter.name;
          all.push(entry as OwnedEntry);
        }
      } catch (error) {
        this.#warnOnce(`entries|${adapter.name}`, `adapter ${adapter.name} failed to list its entries: ${describe(error)}`);
      }
    }
    return all;
  }

  /** Hands adapters the packages the module imports; falls back to requiring them from its folder. */
  #attach(id: string, imports: Record<string, unknown>): void {
    let require: NodeJS.Require | undefined;
    const requireFrom = () => {
      if (!require && isAbsolute(id)) {
        // Through getBuiltinModule: a bundler that sees `createRequire(...)` in our code (webpack
        // does) replaces it, and the fallback silently finds nothing.
        const moduleApi = globalThis.process?.getBuiltinModule?.('node:module') as typeof import('node:module') | undefined;
        require = moduleApi?.createRequire(id);
      }
      return require;
    };
    const context: AdapterContext = { ...this.#context, require: (specifier) => requireFrom()?.(specifier) };
    for (const adapter of this.adapters) {
      if (!adapter.attach) continue;
      for (const [specifier, namespace] of Object.entries(imports)) {
        if (adapter.packages?.some((p) => specifier === p || specifier.startsWith(p + '/'))) this.#attachTo(adapter, namespace, specifier, context);
      }
      if (adapter.attached?.() === false && !this.#required.has(adapter.name) && requireFrom()) {
        this.#required.add(adapter.name);
        for (const pkg of adapter.packages ?? []) {
          let namespace: unknown;
          try {
            // Only a package the app has loaded already: requiring one that is merely installed
            // (TypeORM next to Mongoose) would load it for nothing, megabytes of it.
            const resolved = requireFrom()!.resolve(pkg);
            if (!requireFrom()!.cache[resolved]) continue;
            namespace = requireFrom()!(pkg);
          } catch {
            continue; // Not installed where this module lives: this adapter has nothing to do.
          }
          this.#attachTo(adapter, namespace, pkg, context);
        }
      }
    }
  }

  /** An adapter that fails must not break the user's module: it says so once and sits this one out. */
  #attachTo(adapter: Adapter, namespace: unknown, specifier: string, context: AdapterContext): void {
    try {
      adapter.attach!(namespace, specifier, context);
    } catch (error) {
      this.#warnOnce(`attach|${adapter.name}`, `adapter ${adapter.name} failed to attach to ${specifier}: ${describe(error)}`);
    }
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushing = this.#flush();
    }, this.options.settleMs);
    this.#timer.unref?.();
  }

  /** Measures and reports the batch that just settled. Runs off any request's path (a timer). */
  async #flush(): Promise<ReloadRecord | undefined> {
    await this.#flushing;
    const batch = this.#batch;
    this.#batch = new ReloadBatch();
    if (!batch.isReload) return undefined;
    const { counts: alive, ...collected } = await countAfterGc(() => ({ models: this.generations.count(), files: this.scopes.count() }), this.options.gc);
    const sideEffects = this.sideEffects.count();
    const memory = process.memoryUsage();
    const reload = ++this.#reloads;
    this.#firstHeap ??= memory.heapUsed;
    const record: ReloadRecord = {
      reload,
      time: new Date().toISOString(),
      files: [...batch.files],
      purged: [...batch.purged.values()],
      purgeMs: round(batch.purgeMs, 3),
      failed: [...batch.failed],
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      rss: memory.rss,
      external: memory.external,
      heapDelta: memory.heapUsed - (this.#lastHeap ?? memory.heapUsed),
      heapDeltaFromFirst: memory.heapUsed - this.#firstHeap,
      gc: collected.collected,
      gcMs: round(collected.gcMs, 2),
      gcRounds: collected.rounds,
      alive: alive.models,
      generations: alive.files,
      released: [...batch.released.values()],
      sideEffects,
      verdict: 'unknown',
      warnings: [],
    };
    if (collected.collected) {
      this.#detector.tracing = !!this.options.trace;
      const judged = this.#detector.judge({
        reload,
        heapUsed: memory.heapUsed,
        files: record.files,
        edited: [...batch.edited],
        alive: this.generations.count(this.#servers),
        modelFiles: Object.fromEntries(Object.keys(alive.models).map((name) => [name, this.generations.describe(name).at(-1)?.file ?? name])),
        generations: this.scopes.count(this.#servers),
        sideEffects: sideEffects.map((effect) => ({ effect, generations: this.sideEffects.generationsOf(effect) })),
      });
      record.warnings = judged.warnings;
      if (judged.stopped.length > 0) record.stopped = judged.stopped;
      record.verdict = judged.verdict;
    }
    this.#lastHeap = memory.heapUsed;
    if (collected.collected) this.#heaps = [...this.#heaps.slice(-15), memory.heapUsed];
    if (this.options.memoryLine) this.#log('info', formatMemoryLine(record, undefined, this.#heaps));
    for (const warning of record.warnings) this.#log('warn', warning.message);
    for (const stop of record.stopped ?? []) this.#log('info', stop.message);
    if (this.options.trace && record.warnings.some((w) => w.kind !== 'heap')) {
      const subjects = record.warnings.filter((w) => w.kind !== 'heap').flatMap((w) => [w.subject, w.file ?? w.subject]);
      record.retainerPath = (await this.trace(subjects))[0]?.path;
    }
    if (collected.collected) this.#explainOldGenerations(alive.models);
    const report = this.options.report;
    if (report) {
      const path = isAbsolute(report) ? report : `${this.options.root}/${report}`;
      await appendReport(path, record).catch((error) =>
        this.#warnOnce(`report|${path}`, `cannot write the report to ${path}: ${describe(error)}`),
      );
    }
    for (const listener of this.#listeners) listener(record);
    return record;
  }

  /**
   * "Who holds it": the shortest strong path from a GC root to the oldest old generation of each
   * subject (model names or files; by default all with more than one generation alive), printed
   * and returned. Takes a heap snapshot: blocks the process for seconds.
   */
  trace(subjects?: string[]): Promise<TracedSubject[]> {
    return traceOldGenerations(subjects ?? [...this.generations.piledUp(), ...this.scopes.piledUp()], {
      models: this.generations,
      scopes: this.scopes,
      dir: join(this.options.root, 'node_modules', '.cache', 'orm-hmr'),
      keep: this.options.trace === 'keep',
      log: (level, message) => this.#log(level, message),
    });
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

  #file(id: string): string {
    if (!isAbsolute(id)) return id;
    const rel = relative(this.options.root, id);
    return (rel.startsWith('..') ? id : rel).split(sep).join('/');
  }

  #log(level: keyof Logger, message: string): void {
    this.options.logger[level](message);
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log('warn', message);
  }
}

/** Runs all callbacks even when some throw (each error reported). */
function runCallbacks(callbacks: (() => void)[], onError: (error: unknown) => void): void {
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      onError(error);
    }
  }
}

function labels(entries: OwnedEntry[]): string[] {
  return [...new Set(entries.filter((e) => e.label !== undefined).map((e) => e.label!))];
}

function describeKind(entry: OwnedEntry): string {
  return entry.track ? 'model' : 'entry';
}

/** A name for an unlabelled entry: its class (`MongoClient`). */
function describeValue(value: unknown): string {
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name || typeof value;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
