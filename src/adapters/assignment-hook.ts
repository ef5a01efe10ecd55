/**
 * Seeing instances of a class whose constructor calls nothing we could wrap (pg's `Pool` and
 * `Client`, knex's `Client`), and whose export we cannot replace (an ES module's bindings are
 * fixed). The constructor does assign properties with `this.key = value`: an accessor for `key` on
 * the prototype turns the first such assignment into a call. The setter puts the value on the
 * instance as the plain data property it would have been, so later reads and writes never see us.
 */
export function hookAssignment(proto: object, key: string, seen: (instance: object) => void): () => void {
  if (Object.hasOwn(proto, key)) return () => {};
  const accessor: PropertyDescriptor = {
    configurable: true,
    get: () => undefined,
    set(this: object, value: unknown) {
      Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
      seen(this);
    },
  };
  Object.defineProperty(proto, key, accessor);
  return () => {
    const current = Object.getOwnPropertyDescriptor(proto, key);
    if (current?.set === accessor.set) delete (proto as Record<string, unknown>)[key];
  };
}
