/**
 * Connections a pool opens for itself (pg's `Pool`, knex's pool over pg) are the pool's, not the
 * file's: the pool is what a file registers, and closing the pool closes them. Pools mark the
 * synchronous stretch in which they construct a connection; driver adapters skip what is made then.
 */
let depth = 0;

/** Runs `create` (a pool constructing a connection) with connections marked as pooled. */
export function asPooled<T>(create: () => T): T {
  depth++;
  try {
    return create();
  } finally {
    depth--;
  }
}

/** Whether a connection constructed right now belongs to a pool. */
export function constructingPooled(): boolean {
  return depth > 0;
}

/** The object on `proto`'s chain that owns `key`, where a patch must go to wrap it for every subclass. */
export function ownerOf(proto: object, key: PropertyKey): object | undefined {
  for (let at: object | null = proto; at && at !== Object.prototype; at = Object.getPrototypeOf(at)) {
    if (Object.hasOwn(at, key)) return at;
  }
  return undefined;
}
