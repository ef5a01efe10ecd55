import type { Entry } from '../adapters/types.ts';

/** An entry as the runtime keeps it: with the name of the adapter that listed it. */
export interface OwnedEntry extends Entry {
  adapter: string;
}

/** An entry's place in its container: the key for objects and Maps, the value itself for arrays and Sets. */
export function slotOf(entry: Entry): unknown {
  return entry.key !== undefined ? entry.key : entry.value;
}

/** Values by (container, slot), in insertion order. Two-level maps rather than string ids. */
export class SlotMap<V> {
  readonly #byContainer = new Map<object, Map<unknown, V>>();

  get(entry: Entry): V | undefined {
    return this.#byContainer.get(entry.container)?.get(slotOf(entry));
  }
  has(entry: Entry): boolean {
    return this.#byContainer.get(entry.container)?.has(slotOf(entry)) ?? false;
  }
  set(entry: Entry, value: V): void {
    let slots = this.#byContainer.get(entry.container);
    if (!slots) this.#byContainer.set(entry.container, (slots = new Map()));
    slots.set(slotOf(entry), value);
  }
  delete(entry: Entry): void {
    const slots = this.#byContainer.get(entry.container);
    if (!slots) return;
    slots.delete(slotOf(entry));
    if (slots.size === 0) this.#byContainer.delete(entry.container);
  }
  *values(): Generator<V> {
    for (const slots of this.#byContainer.values()) yield* slots.values();
  }
}

export function sameSlot(a: Entry, b: Entry): boolean {
  return a.container === b.container && slotOf(a) === slotOf(b);
}

/** Whether the container still holds this entry's value in its slot. */
export function isHeld(entry: Entry): boolean {
  const { container, key, value } = entry;
  if (container instanceof Map) return container.get(key) === value;
  if (container instanceof Set) return container.has(value);
  if (Array.isArray(container)) return container.includes(value);
  return key !== undefined && (container as Record<PropertyKey, unknown>)[key] === value;
}

/**
 * Takes the entry out of its container and returns the undo. Does nothing (and undoes nothing)
 * when the slot already holds something else: another file may have taken it over since.
 */
export function removeEntry(entry: Entry): () => void {
  if (entry.remove) return entry.remove();
  if (!isHeld(entry)) return noop;
  const { container, key, value } = entry;
  if (container instanceof Map) {
    container.delete(key);
    return () => {
      if (!container.has(key)) container.set(key, value);
    };
  }
  if (container instanceof Set) {
    container.delete(value);
    return () => container.add(value);
  }
  if (Array.isArray(container)) {
    const index = container.indexOf(value);
    container.splice(index, 1);
    return () => {
      if (!container.includes(value)) container.splice(Math.min(index, container.length), 0, value);
    };
  }
  const record = container as Record<PropertyKey, unknown>;
  delete record[key!];
  return () => {
    if (!Object.hasOwn(record, key!)) record[key!] = value;
  };
}

/** Each entry's value by slot: what a listing adapter held before an evaluation. */
export function snapshot(entries: OwnedEntry[]): SlotMap<unknown> {
  const values = new SlotMap<unknown>();
  for (const entry of entries) if (!values.has(entry)) values.set(entry, entry.value);
  return values;
}

/** A keyed entry must still hold its value (a model replaced in the same body is not this file's twice). */
export function stillRegistered(entry: Entry): boolean {
  if (entry.key === undefined || entry.remove) return true;
  return isHeld(entry);
}

/** The distinct labels of entries, in order. */
export function labels(entries: OwnedEntry[]): string[] {
  return [...new Set(entries.filter((e) => e.label !== undefined).map((e) => e.label!))];
}

/** What the warnings call an entry. */
export function describeKind(entry: OwnedEntry): string {
  return entry.track ? 'model' : 'entry';
}

/** A name for an unlabelled entry: its class (`MongoClient`). */
export function describeValue(value: unknown): string {
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name || typeof value;
}

function noop(): void {}
