/** One tracked value of one generation, held weakly. */
interface Tracked {
  ref: WeakRef<object>;
  generation: number;
  file: string;
  /** Which dev server (counted from 1 in this process) was running when it was registered. */
  server: number;
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

  track(label: string, value: unknown, file: string, generation: number, server: number): void {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
    if (this.#seen.has(value)) return;
    this.#seen.add(value);
    let list = this.#byLabel.get(label);
    if (!list) this.#byLabel.set(label, (list = []));
    list.push({ ref: new WeakRef(value), generation, file, server });
  }

  /** Whether `value` was never tracked. */
  isNew(value: unknown): boolean {
    return (typeof value === 'object' || typeof value === 'function') && value !== null && !this.#seen.has(value);
  }

  /** Live generations per label, dropping labels with none left; only those of dev server `server` on, if given. */
  count(server = 0): Record<string, number> {
    const alive: Record<string, number> = {};
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
      if (live === 0) this.#byLabel.delete(label);
      else if (counted > 0) alive[label] = counted;
    }
    return alive;
  }

  /** The oldest live generation of a label that is not the newest: what to trace when old ones pile up. */
  oldest(label: string): { ref: WeakRef<object>; file: string; generation: number } | undefined {
    const live = (this.#byLabel.get(label) ?? []).filter((tracked) => tracked.ref.deref() !== undefined);
    return live.length > 1 ? live[0] : undefined;
  }

  /** Stops counting what `file` registered (it was deleted: whatever still holds its last generation is not a reload leak). */
  forget(file: string): void {
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
    return (this.#byLabel.get(label) ?? [])
      .filter((tracked) => tracked.ref.deref() !== undefined)
      .map(({ file, generation, server }) => ({ file, generation, server }));
  }
}
