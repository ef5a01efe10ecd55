/**
 * Like global-cache's `heldByGlobal`, for clients a global holds through a wrapper rather than
 * directly: a `knex` function holds its client, a better-sqlite3 `Database` its native handle.
 * `holds` tells whether one candidate stands for the client; it is asked of every global and of
 * each value one level down in a plain object (`globalThis.cache = { db }`). Reads data
 * properties only: a getter on globalThis may have side effects.
 */
export function globalHolds(holds: (candidate: unknown) => boolean): boolean {
  for (const key of Reflect.ownKeys(globalThis)) {
    const held = dataValue(globalThis, key);
    if (holds(held)) return true;
    if (held && typeof held === 'object' && Object.getPrototypeOf(held) === Object.prototype) {
      for (const inner of Reflect.ownKeys(held)) if (holds(dataValue(held, inner))) return true;
    }
  }
  return false;
}

export function dataValue(target: unknown, key: PropertyKey): unknown {
  if ((typeof target !== 'object' && typeof target !== 'function') || target === null) return undefined;
  const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}
