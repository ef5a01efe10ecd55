import { SlotMap, describeKind, sameSlot, type OwnedEntry } from './entries.ts';
import type { ModuleRecord } from './module-record.ts';

interface Owner {
  record: ModuleRecord;
  entry: OwnedEntry;
}

/**
 * Which file's live generation holds each registry slot (container and key), and the warnings
 * when two files register one name: the newest evaluation takes a slot over, and says so once.
 */
export class Owners {
  readonly #slots = new SlotMap<Owner>();
  readonly #file: (id: string) => string;
  readonly #warnOnce: (key: string, message: string) => void;

  constructor(file: (id: string) => string, warnOnce: (key: string, message: string) => void) {
    this.#file = file;
    this.#warnOnce = warnOnce;
  }

  /** Whether `entry`'s slot is held, with this very value, by a file other than `record`. */
  heldByOther(entry: OwnedEntry, record: ModuleRecord): boolean {
    const owner = this.#slots.get(entry);
    return !!owner && owner.record !== record && owner.entry.value === entry.value;
  }

  /** Whether a file holds `entry`'s slot with this very value (the sweep's test for "reported"). */
  holds(entry: OwnedEntry): boolean {
    return this.#slots.get(entry)?.entry.value === entry.value;
  }

  /** `record`'s new generation holds these slots; a file that held one before loses it, with a warning. */
  claim(record: ModuleRecord, entries: Iterable<OwnedEntry>): void {
    for (const entry of entries) {
      const previous = this.#slots.get(entry);
      if (previous && previous.record !== record) this.#takeOver(previous.record, record, entry);
      this.#slots.set(entry, { record, entry });
    }
  }

  /** After a failed evaluation: the previous generation's slots are its own again, unless another file took them. */
  restore(record: ModuleRecord, entries: Iterable<OwnedEntry>): void {
    for (const entry of entries) if (!this.#slots.has(entry)) this.#slots.set(entry, { record, entry });
  }

  /** `record` no longer holds `entry`'s slot (its generation is being purged). */
  release(record: ModuleRecord, entry: OwnedEntry): void {
    if (this.#slots.get(entry)?.record === record) this.#slots.delete(entry);
  }

  /** The evaluating file hit a name another file holds (the ORM refused it): say which. Looks through every owner, but only on that error. */
  conflict(label: string, evaluating: ModuleRecord): void {
    for (const { record, entry } of this.#slots.values()) {
      if (record === evaluating || entry.label !== label) continue;
      this.#warnOnce(
        `conflict|${label}|${record.id}|${evaluating.id}`,
        `${entry.adapter} ${describeKind(entry)} "${label}" is registered by both ${this.#file(record.id)} and ${this.#file(evaluating.id)}; ${entry.adapter} refuses the second. Keep each name in one file.`,
      );
      return;
    }
  }

  /** Another file's entry was replaced (e.g. under `overwriteModels`): warn, and the new file owns it. */
  #takeOver(from: ModuleRecord, to: ModuleRecord, entry: OwnedEntry): void {
    if (from.current) from.current.entries = from.current.entries.filter((e) => !sameSlot(e, entry));
    if (entry.label === undefined) return;
    this.#warnOnce(
      `${entry.adapter}:${entry.label}|${from.id}|${to.id}`,
      `${entry.adapter} ${describeKind(entry)} "${entry.label}" is registered by both ${this.#file(from.id)} and ${this.#file(to.id)}; ${this.#file(to.id)} (evaluated last) now holds it. Keep each name in one file.`,
    );
  }
}
