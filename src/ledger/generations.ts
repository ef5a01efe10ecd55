/** One tracked value of one generation, held weakly. */
interface Tracked {
  ref: WeakRef<object>;
  generation: number;
  file: string;
  /** Which dev server (counted from 1 in this process) was running when it was registered. */
  server: number;
}

/** A value a committed evaluation registered, held strongly until the next read: it is its file's live generation. */
type Pending = [label: string, value: object, file: string, generation: number, server: number];

/** What one pass over the tracked values finds. */
export interface Census {
  /** Live generations per label. */
  all: Record<string, number>;
  /** Live generations per label, of dev server `server` on (labels with none left out). */
  since: Record<string, number>;
  /** The file of each label's newest live generation. */
  newestFile: Record<string, string>;
}

/**
 * How many generations of each model are still alive. Every value a file registers (a model
 * class) is held here only through a WeakRef: after a full GC, a count above 1 means something
 * still holds an old generation.
 */
export class GenerationCounter {
  /** Tracked values by label, oldest first. Dead refs are pruned on each count. */
  #byLabel = new Map<string, Tracked[]>();
  /** Values already tracked: `mongoose.models.User` and `connection.models.User` are one model. */
  #seen = new WeakSet<object>();
  /**
   * Committed since the last read, by file: a commit only appends here, and the WeakRefs are made
   * off the request path when the batch is measured (a batch of 1000 model files makes 2000 of
   * them). Only the newest generation of a file waits here: the one before is held weakly as soon
   * as a newer one commits, so saves in a row that never let a batch settle keep nothing alive.
   */
  #pending = new Map<string, Pending[]>();

  /** `deferred`: the value is its file's live generation, just committed (see #pending); otherwise held weakly at once. */
  track(label: string, value: unknown, file: string, generation: number, server: number, deferred = false): void {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
    if (!deferred) return this.#hold(label, value, file, generation, server);
    const pending = this.#pending.get(file);
    if (!pending) return void this.#pending.set(file, [[label, value, file, generation, server]]);
    if (pending[0]![3] !== generation) this.#holdAll(pending.splice(0));
    pending.push([label, value, file, generation, server]);
  }

  /** Holds what was committed since the last read weakly from now on (every read does this first). */
  holdWeakly(): void {
    if (this.#pending.size === 0) return;
    for (const pending of this.#pending.values()) this.#holdAll(pending);
    this.#pending.clear();
  }

  #holdAll(pending: Pending[]): void {
    for (const [label, value, file, generation, server] of pending) this.#hold(label, value, file, generation, server);
  }

  #hold(label: string, value: object, file: string, generation: number, server: number): void {
    if (this.#seen.has(value)) return;
    this.#seen.add(value);
    let list = this.#byLabel.get(label);
    if (!list) this.#byLabel.set(label, (list = []));
    list.push({ ref: new WeakRef(value), generation, file, server });
  }

  /** Whether `value` was never tracked. */
  isNew(value: unknown): boolean {
    this.holdWeakly();
    return (typeof value === 'object' || typeof value === 'function') && value !== null && !this.#seen.has(value);
  }

  /** Live generations per label, dropping labels with none left; only those of dev server `server` on, if given. */
  count(server = 0): Record<string, number> {
    return this.census(server).since;
  }

  /** One pass over every label: what a measured batch needs, without listing the app's models once per question. */
  census(server = 0): Census {
    this.holdWeakly();
    const census: Census = { all: {}, since: {}, newestFile: {} };
    // In place, without a new array per label: a batch counts every model of the app, several times.
    for (const [label, list] of this.#byLabel) {
      let live = 0;
      let counted = 0;
      for (const tracked of list) {
        if (tracked.ref.deref() === undefined) continue;
        list[live++] = tracked;
        if (tracked.server >= server) counted++;
      }
      list.length = live;
      if (live === 0) {
        this.#byLabel.delete(label);
        continue;
      }
      census.all[label] = live;
      census.newestFile[label] = list[live - 1]!.file;
      if (counted > 0) census.since[label] = counted;
    }
    return census;
  }

  /** The oldest live generation of a label that is not the newest: what to trace when old ones pile up. */
  oldest(label: string): { ref: WeakRef<object>; file: string; generation: number } | undefined {
    this.holdWeakly();
    const live = (this.#byLabel.get(label) ?? []).filter((tracked) => tracked.ref.deref() !== undefined);
    return live.length > 1 ? live[0] : undefined;
  }

  /** Stops counting what `file` registered (it was deleted: whatever still holds its last generation is not a reload leak). */
  forget(file: string): void {
    this.holdWeakly();
    for (const [label, list] of this.#byLabel) {
      const kept = list.filter((tracked) => tracked.file !== file);
      if (kept.length === 0) this.#byLabel.delete(label);
      else this.#byLabel.set(label, kept);
    }
  }

  /** Labels with more than one live generation. */
  piledUp(): string[] {
    return Object.entries(this.count()).filter(([, n]) => n > 1).map(([label]) => label);
  }

  /** Files, generation numbers and dev servers of the live values of a label, oldest first. */
  describe(label: string): { file: string; generation: number; server: number }[] {
    this.holdWeakly();
    return (this.#byLabel.get(label) ?? [])
      .filter((tracked) => tracked.ref.deref() !== undefined)
      .map(({ file, generation, server }) => ({ file, generation, server }));
  }
}
