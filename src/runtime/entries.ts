import type { Entry } from '../adapters/types.ts';

/** Numbers objects for entry ids. Weak, so an id never keeps an old generation alive. */
export class ObjectIds {
  #ids = new WeakMap<object, number>();
  #next = 1;

  of(object: object): number {
    let id = this.#ids.get(object);
    if (id === undefined) {
      id = this.#next++;
      this.#ids.set(object, id);
    }
    return id;
  }
}

/** An entry as the runtime keeps it: with its adapter and a stable id. */
export interface OwnedEntry extends Entry {
  adapter: string;
  id: string;
}

/** Same container and key (or, for lists, same value) means same slot. */
export function entryId(ids: ObjectIds, adapter: string, entry: Entry): string {
  const slot =
    entry.key !== undefined
      ? typeof entry.key === 'symbol'
        ? `s:${String(entry.key.description)}`
        : `k:${String(entry.key)}`
      : `v:${typeof entry.value === 'object' || typeof entry.value === 'function' ? ids.of(entry.value as object) : String(entry.value)}`;
  return `${adapter}|${ids.of(entry.container)}|${slot}`;
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

function noop(): void {}
