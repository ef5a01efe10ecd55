import { patchMethod } from '../util/patch.ts';
import type { Adapter, AdapterContext, Entry } from './types.ts';

/** Typegoose's own caches (`lib/internal/data.js`): the model and the class compiled for each name. */
interface TypegooseData {
  models: Map<string, unknown>;
  constructors: Map<string, unknown>;
}

/**
 * Typegoose: its caches of models and classes by name. `getModelForClass(User)` returns the cached
 * model when the name is known, so an edited class silently keeps the old schema: purging the
 * file's names makes the next call compile the edited class. The Mongoose models themselves are the
 * mongoose adapter's (Typegoose re-exports its `mongoose`, which is how that adapter finds it).
 */
export function typegooseAdapter(): Adapter {
  // One per copy of Typegoose (a bundler may evaluate its own), held weakly.
  const caches = new Set<WeakRef<TypegooseData>>();
  const known = new WeakSet<TypegooseData>();
  const restores: (() => void)[] = [];
  let context: AdapterContext | undefined;

  // Typegoose writes its caches with `Map#set`: each cache's own `set` reports the entry.
  const hookCache = (map: Map<string, unknown>, labelled: boolean) =>
    patchMethod(map, 'set', (set) =>
      function (this: Map<string, unknown>, key: string, value: unknown) {
        const result = set.call(this, key, value);
        context?.register({ container: map, key, value, ...(labelled && { label: key }) });
        return result;
      },
    );

  return {
    name: 'typegoose',
    packages: ['@typegoose/typegoose'],
    reports: true,

    attach(namespace, _specifier, attachContext) {
      context ??= attachContext;
      // The caches are not exported: read them from the copy this module resolves, and only if it
      // is the very copy its import gave us (same getModelForClass).
      const data = attachContext?.require?.('@typegoose/typegoose/lib/internal/data') as TypegooseData | undefined;
      const main = attachContext?.require?.('@typegoose/typegoose') as { getModelForClass?: unknown } | undefined;
      const ns = namespace as { getModelForClass?: unknown; default?: { getModelForClass?: unknown } } | undefined;
      const imported = ns?.getModelForClass ?? ns?.default?.getModelForClass;
      if (!data || !(data.models instanceof Map) || !(data.constructors instanceof Map) || known.has(data)) return;
      if (imported !== undefined && main?.getModelForClass !== imported) return;
      known.add(data);
      caches.add(new WeakRef(data));
      restores.push(hookCache(data.models, true), hookCache(data.constructors, false));
    },

    attached: () => [...caches].some((ref) => ref.deref() !== undefined),

    detach() {
      for (const restore of restores.splice(0)) restore();
    },

    entries() {
      const out: Entry[] = [];
      for (const ref of caches) {
        const data = ref.deref();
        if (!data) {
          caches.delete(ref);
          continue;
        }
        for (const [name, model] of data.models) out.push({ container: data.models, key: name, value: model, label: name });
        for (const [name, cl] of data.constructors) out.push({ container: data.constructors, key: name, value: cl });
      }
      return out;
    },
  };
}
