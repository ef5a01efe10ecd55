/**
 * The dev-server idiom for connections, `globalThis._mongoClient ??= new MongoClient(uri)` (or the
 * promise of its `connect()`, or `globalThis.mongo = { client }`): the new evaluation takes the
 * previous generation's client back without touching it, so nothing shows that it did, except
 * that a global still holds it. A client a global holds is never closed.
 */

/** Promises that stand for a value: `client.connect()` resolves to the client. */
export type Aliases = WeakMap<object, object>;

/**
 * Whether a global property holds `value`, directly, as a promise recorded in `aliases`, or one
 * level down in a plain object.
 */
export function heldByGlobal(value: object, aliases?: Aliases): boolean {
  return globalHolds((candidate) => candidate === value || (typeof candidate === 'object' && candidate !== null && aliases?.get(candidate) === value));
}

/**
 * Whether `holds` says yes to a global, or to a value one level down in a plain object
 * (`globalThis.cache = { db }`): also for clients a global holds through a wrapper (a `knex`
 * function holds its client, a better-sqlite3 `Database` its native handle). Reads data properties
 * only: a getter on globalThis may have side effects (Node's lazy globals load modules on first read).
 */
export function globalHolds(holds: (candidate: unknown) => boolean): boolean {
  for (const key of Reflect.ownKeys(globalThis)) {
    const held = dataValue(globalThis, key);
    if (holds(held)) return true;
    if (!isPlainObject(held)) continue;
    for (const inner of Reflect.ownKeys(held)) if (holds(dataValue(held, inner))) return true;
  }
  return false;
}

export function dataValue(target: unknown, key: PropertyKey): unknown {
  if ((typeof target !== 'object' && typeof target !== 'function') || target === null) return undefined;
  const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
