import { isAbsolute } from 'node:path';
import { toAdapters, type BuiltinAdapterName } from '../adapters/builtin.ts';
import type { Adapter, AdapterContext, Entry } from '../adapters/types.ts';
import { builtin } from '../util/builtin.ts';
import { describe } from '../util/errors.ts';
import { describeValue, isHeld, sameSlot, type OwnedEntry } from './entries.ts';

/** What the host needs of the runtime: where reported registrations go, and its log. */
export interface HostCallbacks {
  register(adapter: string, entry: Entry): void;
  released(adapter: string, name: string, action: 'closed' | 'reused' | 'dropped'): void;
  conflict(label: string): void;
  log(level: 'info' | 'warn', message: string): void;
  warnOnce(key: string, message: string): void;
}

/**
 * The adapters in use: which packages mark a module as tracked, handing them the namespaces a
 * module imports, and listing the entries of those that do not report their registrations.
 */
export class AdapterHost {
  readonly adapters: Adapter[] = [];
  readonly #callbacks: HostCallbacks;
  /** Adapters we already tried to require from a module's folder (by adapter name). */
  readonly #required = new Set<string>();
  /** One `register` per adapter object: adapters keep the context they were first handed. */
  readonly #contexts = new WeakMap<Adapter, Omit<AdapterContext, 'require'>>();
  readonly #namespaces = new WeakMap<Adapter, WeakSet<object>>();
  /** Namespaces by the file they were imported from (EnterOptions.at), for this dev server. */
  readonly #byFile = new Map<string, unknown>();
  /** The adapters with an `attach` that handle each specifier: `attach` runs for every evaluation. Cleared when the adapters change. */
  readonly #handling = new Map<string, Adapter[]>();
  /** Adapters with an `attach` not yet looked for in a module's folder (see `attach`). */
  #toRequire: Adapter[] = [];
  /** What `listed()` returns: asked before every evaluation. */
  #listed: readonly Adapter[] = [];

  constructor(callbacks: HostCallbacks) {
    this.#callbacks = callbacks;
  }

  /** Uses exactly these adapters: built-in names or adapter objects. A dropped one undoes its patches. */
  choose(chosen: readonly (BuiltinAdapterName | Adapter)[]): void {
    // A built-in one already running keeps what it found (the app's ORM instances).
    const next = chosen.map((item) => (typeof item === 'string' && this.adapters.find((a) => a.name === item)) || toAdapters([item])[0]!);
    for (const adapter of this.adapters) if (!next.includes(adapter)) this.#detach(adapter);
    this.adapters.splice(0, this.adapters.length, ...dedupe(next));
    this.#changed();
  }

  /** Adds an adapter; one with the same name replaces (and detaches) the old one. */
  use(adapter: Adapter): void {
    const index = this.adapters.findIndex((a) => a.name === adapter.name);
    if (index < 0) this.adapters.push(adapter);
    else {
      if (this.adapters[index] !== adapter) this.#detach(this.adapters[index]!);
      this.adapters[index] = adapter;
    }
    this.#changed();
  }

  #changed(): void {
    this.#handling.clear();
    this.#toRequire = this.adapters.filter((adapter) => adapter.attach && !this.#required.has(adapter.name));
    this.#listed = this.adapters.filter((adapter) => !adapter.reports);
  }

  /** Packages the adapters handle: what marks a module as one to wrap. */
  packages(): string[] {
    return this.adapters.flatMap((adapter) => [...(adapter.packages ?? [])]);
  }

  /** Adapters that do not report their registrations: their entries are diffed around each evaluation. */
  listed(): readonly Adapter[] {
    return this.#listed;
  }

  /** One adapter's entries, each tagged with its name (entries are fresh objects per listing). */
  list(adapter: Adapter): OwnedEntry[] {
    const all: OwnedEntry[] = [];
    try {
      for (const entry of adapter.entries()) {
        (entry as OwnedEntry).adapter = adapter.name;
        all.push(entry as OwnedEntry);
      }
    } catch (error) {
      this.#callbacks.warnOnce(`entries|${adapter.name}`, `adapter ${adapter.name} failed to list its entries: ${describe(error)}`);
    }
    return all;
  }

  /** Tells each adapter what it registered in an evaluation that succeeded. */
  committed(fresh: OwnedEntry[]): void {
    // Most evaluations register with one adapter: grouped only when they do not.
    let only: string | undefined = fresh[0]?.adapter;
    for (let i = 1; i < fresh.length && only !== undefined; i++) if (fresh[i]!.adapter !== only) only = undefined;
    let byAdapter: Map<string, OwnedEntry[]> | undefined;
    if (only === undefined && fresh.length > 0) {
      byAdapter = new Map();
      for (const entry of fresh) {
        const list = byAdapter.get(entry.adapter);
        if (list) list.push(entry);
        else byAdapter.set(entry.adapter, [entry]);
      }
    }
    for (const adapter of this.adapters) {
      if (!adapter.committed) continue;
      try {
        adapter.committed((adapter.name === only ? fresh : byAdapter?.get(adapter.name)) ?? NONE);
      } catch (error) {
        this.#callbacks.warnOnce(`committed|${adapter.name}`, `adapter ${adapter.name} failed after an evaluation: ${describe(error)}`);
      }
    }
  }

  /**
   * The previous generation is gone for good: let adapters close what the new one did not take back.
   * Returns the entries an adapter reused that are still registered, and whose place the new
   * generation did not fill: they belong to it now.
   */
  release(purged: OwnedEntry[], fresh: OwnedEntry[]): OwnedEntry[] {
    // Made only when something has a release (most entries, Mongoose's models, have none).
    let kept: Set<unknown> | undefined;
    const reused: OwnedEntry[] = [];
    for (const entry of purged) {
      if (!entry.release || (kept ??= new Set(fresh.map((other) => other.value))).has(entry.value)) continue;
      try {
        const action = entry.release();
        if (action) this.#callbacks.released(entry.adapter, entry.label ?? describeValue(entry.value), action);
        if (action === 'reused' && isHeld(entry) && !fresh.some((other) => sameSlot(other, entry))) reused.push(entry);
      } catch (error) {
        this.#callbacks.warnOnce(`release|${entry.adapter}`, `adapter ${entry.adapter} failed to release ${entry.label ?? 'an entry'}: ${describe(error)}`);
      }
    }
    return reused;
  }

  /** Entries of the reporting adapters that `owned` says no file holds: what no hook reported. */
  unowned(owned: (entry: OwnedEntry) => boolean): OwnedEntry[] {
    return this.adapters.filter((adapter) => adapter.reports).flatMap((adapter) => this.list(adapter).filter((entry) => !owned(entry)));
  }

  /** The namespace a module imported from `file` (a resolved path), if one did in this dev server. */
  namespaceAt(file: string): unknown {
    return this.#byFile.get(file);
  }

  /** A new dev server: its module runner may load packages afresh (one it bundles rather than externalizes). */
  forgetNamespaces(): void {
    this.#byFile.clear();
  }

  /** Hands adapters the packages module `id` imports; falls back to requiring them from its folder. Runs for every evaluation: no allocation unless something is new. */
  attach(id: string, imports: Record<string, unknown>, at?: Record<string, string>): void {
    if (at) for (const specifier in at) this.#byFile.set(at[specifier]!, imports[specifier]);
    let require: NodeJS.Require | undefined;
    const requireFrom = () => {
      if (!require && isAbsolute(id)) require = builtin<typeof import('node:module')>('node:module')?.createRequire(id);
      return require;
    };
    for (const specifier in imports) {
      const namespace = imports[specifier];
      for (const adapter of this.#handlers(specifier)) {
        // The same namespace again (every module importing `mongoose`): the adapter has it already.
        if (isObject(namespace) && this.#handed(adapter).has(namespace)) continue;
        this.#attachTo(adapter, namespace, specifier, { ...this.#context(adapter), require: (specifier) => requireFrom()?.(specifier) });
        if (isObject(namespace)) this.#handed(adapter).add(namespace);
      }
    }
    // An adapter leaves this list once it was looked for in a module's folder.
    for (let i = 0; i < this.#toRequire.length; i++) {
      const adapter = this.#toRequire[i]!;
      if (adapter.attached?.() === false && requireFrom()) {
        this.#required.add(adapter.name);
        this.#toRequire.splice(i--, 1);
        for (const pkg of adapter.packages ?? []) {
          let namespace: unknown;
          try {
            // Only a package the app has loaded already: requiring one that is merely installed
            // (TypeORM next to Mongoose) would load it for nothing, megabytes of it.
            if (!requireFrom()!.cache[requireFrom()!.resolve(pkg)]) continue;
            namespace = requireFrom()!(pkg);
          } catch {
            continue; // Not installed where this module lives: this adapter has nothing to do.
          }
          this.#attachTo(adapter, namespace, pkg, { ...this.#context(adapter), require: (specifier) => requireFrom()?.(specifier) });
        }
      }
    }
  }

  /** The adapters with an `attach` whose packages include `specifier` or a parent of it (cached per specifier). */
  #handlers(specifier: string): Adapter[] {
    let handlers = this.#handling.get(specifier);
    if (!handlers) this.#handling.set(specifier, (handlers = this.adapters.filter((adapter) => adapter.attach && handles(adapter, specifier))));
    return handlers;
  }

  /** Namespaces already handed to each adapter. */
  #handed(adapter: Adapter): WeakSet<object> {
    let handed = this.#namespaces.get(adapter);
    if (!handed) this.#namespaces.set(adapter, (handed = new WeakSet()));
    return handed;
  }

  #context(adapter: Adapter): Omit<AdapterContext, 'require'> {
    let context = this.#contexts.get(adapter);
    if (!context) {
      const callbacks = this.#callbacks;
      context = {
        register: (entry) => callbacks.register(adapter.name, entry),
        released: (name, action) => callbacks.released(adapter.name, name, action),
        conflict: (label) => callbacks.conflict(label),
        log: (level, message) => callbacks.log(level, message),
      };
      this.#contexts.set(adapter, context);
    }
    return context;
  }

  /** An adapter that fails must not break the user's module: it says so once and sits this one out. */
  #attachTo(adapter: Adapter, namespace: unknown, specifier: string, context: AdapterContext): void {
    try {
      adapter.attach!(namespace, specifier, context);
    } catch (error) {
      this.#callbacks.warnOnce(`attach|${adapter.name}`, `adapter ${adapter.name} failed to attach to ${specifier}: ${describe(error)}`);
    }
  }

  #detach(adapter: Adapter): void {
    this.#required.delete(adapter.name);
    try {
      adapter.detach?.();
    } catch (error) {
      this.#callbacks.warnOnce(`detach|${adapter.name}`, `adapter ${adapter.name} failed to detach: ${describe(error)}`);
    }
  }
}

/** Whether `specifier` is one of the adapter's packages or a subpath of one. */
function handles(adapter: Adapter, specifier: string): boolean {
  for (const pkg of adapter.packages ?? []) if (specifier === pkg || (specifier.startsWith(pkg) && specifier[pkg.length] === '/')) return true;
  return false;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

/** What an adapter that registered nothing in an evaluation is handed (never written to). */
const NONE: OwnedEntry[] = Object.freeze([]) as unknown as OwnedEntry[];

function dedupe(adapters: Adapter[]): Adapter[] {
  return adapters.filter((adapter, i) => adapters.indexOf(adapter) === i);
}
