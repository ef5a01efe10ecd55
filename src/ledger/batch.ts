import type { ReleaseAction } from './report.ts';

/** What happened to the files of one reload batch, before it is measured. */
export class ReloadBatch {
  readonly files = new Set<string>();
  /** Files whose source changed since their previous evaluation (or that were deleted). */
  readonly edited = new Set<string>();
  readonly failed = new Set<string>();
  /** What was purged, models first, each `adapter:name` once, in first-purged order. */
  get purged(): { adapter: string; name: string }[] {
    const byKey = new Map<string, { adapter: string; name: string }>();
    // Models first: they are what the line is about (`purged mongoose:User`), then connections and the rest.
    for (const models of [true, false]) {
      for (let i = 0; i < this.#purged.length; i += 3) {
        const adapter = this.#purged[i] as string;
        const name = this.#purged[i + 1] as string;
        const key = `${adapter}:${name}`;
        if (this.#purged[i + 2] === models && !byKey.has(key)) byKey.set(key, { adapter, name });
      }
    }
    return [...byKey.values()];
  }
  /** Adapter, name and whether it is a model, flat, for each named entry purged: nothing is built per evaluation. */
  readonly #purged: (string | boolean)[] = [];
  /** Entries adapters closed or reused once their file's previous generation was dropped. */
  readonly released = new Map<string, { adapter: string; name: string; action: ReleaseAction }>();
  purgeMs = 0;
  /** False while the batch holds only first evaluations (start-up), which are not reloads. */
  isReload = false;

  evaluated(file: string, purged: { adapter: string; label?: string; track?: boolean }[], ms: number, isReload: boolean, edited = true): void {
    this.files.add(file);
    if (edited) this.edited.add(file);
    this.purgeMs += ms;
    this.isReload ||= isReload;
    for (const { adapter, label, track } of purged) if (label !== undefined) this.#purged.push(adapter, label, !!track);
  }

  release(adapter: string, name: string, action: ReleaseAction): void {
    this.released.set(`${action}|${adapter}:${name}`, { adapter, name, action });
  }

  /** Takes in a later batch's evaluations (they were measured with this one). */
  absorb(later: ReloadBatch): void {
    for (const file of later.files) this.files.add(file);
    for (const file of later.edited) this.edited.add(file);
    for (const file of later.failed) this.failed.add(file);
    this.#purged.push(...later.#purged);
    for (const [key, value] of later.released) this.released.set(key, value);
    this.purgeMs += later.purgeMs;
    this.isReload ||= later.isReload;
  }

  failedOn(file: string, ms: number): void {
    this.files.add(file);
    this.failed.add(file);
    this.purgeMs += ms;
    this.isReload = true;
  }
}
