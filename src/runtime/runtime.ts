import type { Entry } from '../adapters/types.ts';
import { Ledger, OUTSIDE } from '../ledger/ledger.ts';
import { AdapterHost } from './adapter-host.ts';
import { settingsFromEnv, type RuntimeOptions, type Settings } from './config.ts';
import { describeValue, labels, type OwnedEntry } from './entries.ts';
import { FileNames, cleanId } from './ids.ts';
import { NOTHING_LISTED, listBefore, registeredBy, sweep } from './journal.ts';
import { consoleLogger, debug, type Logger } from '../util/log.ts';
import type { EnterOptions, Evaluation, EvaluationHandle, ModuleRecord } from './module-record.ts';
import { EvaluationStack } from './evaluation-stack.ts';
import { Owners } from './owners.ts';
import { failureLine, purge, rollBack, type PurgeContext } from './purge.ts';

export type { RuntimeOptions } from './config.ts';
export type { EnterOptions, EvaluationHandle } from './module-record.ts';

const NOOP_HANDLE: EvaluationHandle = { commit() {} };

/**
 * The registry of modules and what they registered, shared by every copy of this file loaded in
 * the process (see hook.ts). Registration-driven, like React Refresh's `$RefreshReg$`: adapters
 * report each registration as it happens and it is appended to the innermost evaluating module's
 * journal, which becomes that file's generation when it commits. Bookkeeping costs what a file
 * registers, not what the app holds.
 */
export class Runtime {
  options: RuntimeOptions;
  /** The settings this process started with (from the environment): what an unset plugin option means. */
  readonly defaults: Readonly<Settings>;
  /** Every tracked module by id. Records stay until their file is deleted; they hold only the live generation. */
  readonly records = new Map<string, ModuleRecord>();
  /** Which record's live generation holds each slot (container and key). */
  readonly owners = new Owners(
    (id) => this.#file(id),
    (key, message) => this.#warnOnce(key, message),
  );
  readonly host: AdapterHost;
  readonly ledger: Ledger;
  readonly #evaluating: EvaluationStack;
  readonly #warned = new Set<string>();
  readonly #fileNames = new FileNames();
  /** Depth of our own bookkeeping on the stack (prologue, epilogue, unload): no user code runs then. */
  #internal = 0;
  disabled = false;

  constructor() {
    // Environment first: a bundler plugin sets it for an app it forks into another process.
    const { adapters, ...settings } = settingsFromEnv();
    this.options = { ...settings, logger: consoleLogger() };
    this.defaults = { ...settings, adapters };
    this.host = new AdapterHost({
      register: (adapter, entry) => this.#register(adapter, entry),
      released: (adapter, name, action) => this.ledger.released(adapter, name, action),
      conflict: (label) => {
        const evaluation = this.#evaluating.innermost;
        if (evaluation) this.owners.conflict(label, evaluation.record);
      },
      log: (level, message) => this.#log(level, message),
      warnOnce: (key, message) => this.#warnOnce(key, message),
    });
    this.host.choose(adapters);
    this.ledger = new Ledger(
      () => this.options,
      () => {
        // Our own timers (an idle wait before closing a client, the batch timer) are nobody's side effect.
        if (this.#internal > 0) return undefined;
        const evaluation = this.#evaluating.innermost;
        // Past the synchronous start of a module with top-level await, other code runs meanwhile.
        return evaluation?.synchronous ? { file: this.#file(evaluation.record.id), generation: evaluation.number, loading: evaluation.loading } : undefined;
      },
      () => sweep(this.host, this.owners, this.ledger),
    );
    this.#evaluating = new EvaluationStack(this.ledger.sideEffects, (evaluation) => this.#ours(() => this.#fail(evaluation)));
  }

  configure(options: Partial<RuntimeOptions>): void {
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined) (this.options as unknown as Record<string, unknown>)[key] = value;
    }
    if (options.leakAfter !== undefined) this.ledger.configure(options.leakAfter);
  }

  /** For the prologue (with `enter`, all the injected code calls): the namespace a module imported from `file` before. */
  namespaceAt(file: string): unknown {
    return this.host.namespaceAt(file);
  }

  /** The prologue: purge what this file registered last time, then journal what it registers now. */
  enter(rawId: string, options: EnterOptions = {}): EvaluationHandle {
    if (this.disabled) return NOOP_HANDLE;
    // Not through #ours: no closure per evaluation (a batch can evaluate 1000 files).
    this.#internal++;
    try {
      return this.#enter(rawId, options);
    } finally {
      this.#internal--;
    }
  }

  #enter(rawId: string, options: EnterOptions): EvaluationHandle {
    const start = performance.now();
    const id = cleanId(rawId);
    this.host.attach(id, options.imports ?? {}, options.at);
    let record = this.records.get(id);
    if (!record) this.records.set(id, (record = { id, evaluations: 0, failures: 0 }));
    // A previous evaluation that never reached its epilogue (top-level await that threw).
    if (record.pending) this.#fail(record.pending);

    const purged = record.current?.entries ?? [];
    const undo = this.#purge(record);
    const evaluation: Evaluation = {
      record,
      number: ++record.evaluations,
      journal: [],
      before: listBefore(this.host),
      purged,
      undo,
      unload: [],
      bookkeepingMs: 0,
      async: !!options.async,
      version: options.version,
      loading: 0,
      synchronous: true,
    };
    record.pending = evaluation;
    this.#evaluating.push(evaluation);
    evaluation.bookkeepingMs += performance.now() - start;
    // The module keeps this handle in its scope for as long as it lives: it must not keep the
    // evaluation (and through it the previous generation) once committed.
    let open: Evaluation | undefined = evaluation;
    const handle: EvaluationHandle = {
      commit: () => {
        const committing = open;
        open = undefined;
        if (!committing) return;
        this.#internal++;
        try {
          this.#commit(committing, handle);
        } finally {
          this.#internal--;
        }
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
    const evaluation = this.#evaluating.innermost;
    if (!evaluation) throw new Error('orm-hmr: onUnload() must be called while a tracked module evaluates (at its top level)');
    evaluation.unload.push(callback);
  }

  /** The file was deleted: drop what it registered. */
  unload(rawId: string): void {
    this.#ours(() => {
      const id = cleanId(rawId);
      const record = this.records.get(id);
      if (!record) return;
      const start = performance.now();
      const purged = record.current?.entries ?? [];
      this.#purge(record);
      this.host.release(purged, []);
      this.records.delete(id);
      this.ledger.forget(this.#file(id));
      this.ledger.evaluated(this.#file(id), purged, performance.now() - start, true);
    });
  }

  /**
   * From an adapter, as a registration happens: it belongs to the innermost module evaluating now.
   * Outside any evaluation (a library's bootstrap, a request handler) it belongs to no file: a
   * model is still counted, so old generations held by a library show.
   */
  #register(adapter: string, entry: Entry): void {
    const owned = entry as OwnedEntry;
    owned.adapter = adapter;
    const evaluation = this.#evaluating.innermost;
    if (evaluation) return void evaluation.journal.push(owned);
    if (owned.track && owned.label !== undefined) this.ledger.track(owned.label, owned.trackedValue ?? owned.value, OUTSIDE, 0);
    debug(() => `${adapter}: ${owned.label ?? describeValue(owned.value)} registered outside any tracked module`);
  }

  /**
   * `handle` lives in the module's scope (the epilogue's closure makes V8 keep it in the module's
   * context): while it is alive, so is that evaluation's scope, so it counts the file's generations.
   */
  #commit(evaluation: Evaluation, handle: EvaluationHandle): void {
    const { record } = evaluation;
    if (record.pending !== evaluation) return;
    const start = performance.now();
    const fresh = registeredBy(evaluation, this.host, this.owners);
    const purged = this.#finish(evaluation);
    this.owners.claim(record, fresh);
    record.current = { number: evaluation.number, entries: fresh, unload: evaluation.unload };
    // What the new generation reused (taken back through a global) is now its own.
    const reused = this.host.release(purged, fresh);
    record.current.entries.push(...reused);
    this.owners.claim(record, reused);
    this.host.committed(fresh);
    record.pending = undefined;
    record.failures = 0;
    record.failedVersion = undefined;
    // The same code evaluated again (Next.js: once per route bundle) is no edit: the ledger judges leaks by edits.
    const edited = evaluation.version === undefined || evaluation.version !== record.version;
    record.version = evaluation.version;
    const file = this.#file(record.id);
    for (const entry of fresh) {
      if (entry.track && entry.label !== undefined) this.ledger.track(entry.label, entry.trackedValue ?? entry.value, file, evaluation.number, true);
    }
    this.ledger.trackScope(file, handle, evaluation.number);
    evaluation.bookkeepingMs += performance.now() - start;
    debug(() => `${file} generation ${evaluation.number}: ${fresh.length} entries (${labels(fresh).join(', ')}), purged ${purged.length}`);
    this.ledger.evaluated(file, purged, evaluation.bookkeepingMs, evaluation.number > 1, edited);
  }

  /** The body threw: remove what it managed to register and put the previous generation back. */
  #fail(evaluation: Evaluation): void {
    const { record } = evaluation;
    if (record.pending !== evaluation) return;
    const start = performance.now();
    const failed = registeredBy(evaluation, this.host, this.owners);
    const undo = evaluation.undo;
    this.#finish(evaluation);
    rollBack(failed, undo);
    // A client the failed body opened is gone for good; the previous one is back and stays open.
    this.host.release(failed, record.current?.entries ?? []);
    this.owners.restore(record, record.current?.entries ?? []);
    record.pending = undefined;
    // The same code failing again (Astro runs a broken module on every request) is not a new save.
    const rerun = record.failures > 0 && evaluation.version !== undefined && evaluation.version === record.failedVersion;
    record.failures++;
    record.failedVersion = evaluation.version;
    if (rerun) return;
    const file = this.#file(record.id);
    if (record.failures === 1) this.#log('warn', failureLine(file, record.current));
    evaluation.bookkeepingMs += performance.now() - start;
    this.ledger.failed(file, evaluation.bookkeepingMs);
  }

  #purge(record: ModuleRecord): (() => void)[] {
    return purge(record, this.#file(record.id), this.#purgeContext);
  }

  readonly #purgeContext: PurgeContext = {
    owners: this.owners,
    undoSideEffects: (file) => (this.options.undoSideEffects ? this.ledger.sideEffects.undo(file, Infinity) : 0),
    error: (message) => this.#log('error', message),
  };

  /** Takes the evaluation off the stack and lets go of the previous generation it held. Returns what was purged. */
  #finish(evaluation: Evaluation): OwnedEntry[] {
    this.#evaluating.remove(evaluation);
    const purged = evaluation.purged;
    evaluation.journal = [];
    evaluation.before = NOTHING_LISTED;
    evaluation.purged = [];
    evaluation.undo = [];
    return purged;
  }

  #file(id: string): string {
    return this.#fileNames.get(id, this.options.root);
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
