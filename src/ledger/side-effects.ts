import { prepareSwap, type Swap } from '../util/patch.ts';
import type { SideEffectCount, SideEffectKind } from './report.ts';

/**
 * The file (and its generation) evaluating now, or undefined outside tracked evaluations; `loading`
 * is how many CommonJS modules were being evaluated for the first time when it started.
 */
export type Evaluating = () => { file: string; generation: number; loading: number } | undefined;

/** One side effect a file's top level started. Holds nothing strongly: timers and listeners hold the module. */
interface Effect {
  kind: SideEffectKind;
  file: string;
  generation: number;
  target?: string;
  live(): boolean;
  undo(): void;
}

interface EmitterLike {
  rawListeners(event: string | symbol): Function[];
  removeListener(event: string | symbol, listener: Function): unknown;
}

type Listener = Function & { listener?: Function };

const ADD_LISTENER = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;

/**
 * Timers, listeners, servers and sockets started while a tracked file evaluates, attributed to
 * that file. Node's own functions are wrapped only while a tracked module evaluates (between its
 * prologue and its epilogue), so the app's own code runs untouched the rest of the time.
 */
export class SideEffects {
  readonly #evaluating: Evaluating;
  /** Effects still live at the last count, oldest first. Entries for dead effects are dropped then. */
  #effects: Effect[] = [];
  #swaps: Swap[] | undefined;
  #watching = false;
  /** The pending `unwatchSoon`. */
  #unwatching: ReturnType<typeof setImmediate> | undefined;
  /** Emitters created during the current evaluations: their listeners belong to the generation, not to a side effect. */
  #fresh = new WeakSet<object>();
  /** CommonJS modules being evaluated for the first time right now (a library `require`d inside a model's body). */
  #loading = 0;
  /** Inside one of our listener wrappers: Node's `once` calls `on`, which must not count it again. */
  #adding = 0;

  /** How many CommonJS modules are being evaluated for the first time right now (see {@link Evaluating}). */
  get loading(): number {
    return this.#loading;
  }

  constructor(evaluating: Evaluating) {
    this.#evaluating = evaluating;
  }

  /** Wraps Node's functions (idempotent): called when a tracked evaluation starts. */
  watch(): void {
    if (this.#watching) return;
    this.#swaps ??= this.#prepare();
    for (const swap of this.#swaps) swap.install();
    this.#watching = true;
  }

  /**
   * Puts Node's functions back once the current job and its I/O callbacks are done, if `idle` still
   * says so: a batch of 1000 module evaluations swaps them in and out once, not 1000 times (each
   * swap writes to `EventEmitter.prototype`, which costs every emitter's call sites their caches).
   * One check at a time: an evaluation entered meanwhile leaves it pending, and it finds the stack
   * busy (the evaluation's end schedules the next).
   */
  unwatchSoon(idle: () => boolean): void {
    if (!this.#watching || this.#unwatching) return;
    this.#unwatching = setImmediate(() => {
      this.#unwatching = undefined;
      if (idle()) this.unwatch();
    });
    this.#unwatching.unref?.();
  }

  /** Puts Node's functions back: called when the last tracked evaluation ends. */
  unwatch(): void {
    if (!this.#watching) return;
    for (const swap of this.#swaps ?? []) swap.uninstall();
    this.#watching = false;
    this.#fresh = new WeakSet();
  }

  /** The wrappers, made once: each evaluation only swaps them in and out. */
  #prepare(): Swap[] {
    const getBuiltin = globalThis.process?.getBuiltinModule;
    if (!getBuiltin) return [];
    const swaps: Swap[] = [];
    const this_ = this;
    const patch = <T extends object, K extends keyof T>(owner: T, key: K, wrap: (original: T[K]) => T[K]) => swaps.push(prepareSwap(owner, key, wrap));

    const timers = getBuiltin('node:timers') as typeof import('node:timers');
    for (const owner of new Set<Record<string, unknown>>([globalThis as never, timers as never])) {
      for (const kind of ['setInterval', 'setTimeout'] as const) {
        patch(owner, kind, (original) =>
          function (this: unknown, ...args: unknown[]) {
            const timer = (original as (...a: unknown[]) => NodeJS.Timeout).apply(this, args);
            this_.#timer(kind, timer);
            return timer;
          },
        );
      }
    }

    const events = getBuiltin('node:events') as typeof import('node:events');
    const emitterProto = events.EventEmitter.prototype as unknown as Record<string, unknown>;
    for (const method of ADD_LISTENER) {
      patch(emitterProto, method, (original) =>
        function (this: EmitterLike, event: string | symbol, listener: Listener) {
          this_.#adding++;
          try {
            const result = (original as Function).call(this, event, listener);
            if (this_.#adding === 1) this_.#listener(this, event, listener);
            return result;
          } finally {
            this_.#adding--;
          }
        },
      );
    }
    patch(events.EventEmitter as unknown as Record<string, unknown>, 'init', (original) =>
      function (this: object, ...args: unknown[]) {
        this_.#fresh.add(this);
        return (original as Function).apply(this, args);
      },
    );

    const net = getBuiltin('node:net') as typeof import('node:net');
    patch(net.Server.prototype as unknown as Record<string, unknown>, 'listen', (original) =>
      function (this: import('node:net').Server, ...args: unknown[]) {
        const result = (original as Function).apply(this, args);
        this_.#server(this);
        return result;
      },
    );
    patch(net.Socket.prototype as unknown as Record<string, unknown>, 'connect', (original) =>
      function (this: import('node:net').Socket, ...args: unknown[]) {
        const result = (original as Function).apply(this, args);
        this_.#socket(this);
        return result;
      },
    );
    // A library first required inside a model's body evaluates its own top level: what it starts is its own.
    const moduleApi = getBuiltin('node:module') as unknown as { prototype?: Record<string, unknown> } | undefined;
    if (moduleApi?.prototype) {
      patch(moduleApi.prototype, '_compile', (original) =>
        function (this: unknown, ...args: unknown[]) {
          this_.#loading++;
          try {
            return (original as Function).apply(this, args);
          } finally {
            this_.#loading--;
          }
        },
      );
    }
    return swaps;
  }

  /** Live side effects per kind, file and target. */
  count(): SideEffectCount[] {
    this.#effects = this.#effects.filter((effect) => effect.live());
    const counts = new Map<string, SideEffectCount>();
    for (const { kind, file, target } of this.#effects) {
      const key = `${kind}|${file}|${target ?? ''}`;
      const count = counts.get(key);
      if (count) count.count++;
      else counts.set(key, { kind, file, count: 1, ...(target !== undefined && { target }) });
    }
    return [...counts.values()];
  }

  /** How many distinct generations of `file` have live side effects of this kind and target. */
  generationsOf(count: SideEffectCount): number {
    const generations = new Set<number>();
    for (const effect of this.#effects) {
      if (effect.kind === count.kind && effect.file === count.file && effect.target === count.target) generations.add(effect.generation);
    }
    return generations.size;
  }

  /** `undoSideEffects`: stops what earlier generations of `file` started (before it evaluates again). */
  undo(file: string, before: number): number {
    let undone = 0;
    for (const effect of this.#effects) {
      if (effect.file !== file || effect.generation >= before || effect.kind === 'socket' || !effect.live()) continue;
      effect.undo();
      undone++;
    }
    return undone;
  }

  #add(effect: Effect): void {
    this.#effects.push(effect);
  }

  /** The evaluation a side effect starting now belongs to: none while a module it loads evaluates. */
  #owner(): { file: string; generation: number } | undefined {
    const now = this.#evaluating();
    if (!now || now.loading !== this.#loading) return undefined;
    return { file: now.file, generation: now.generation };
  }

  #timer(kind: 'setInterval' | 'setTimeout', timer: NodeJS.Timeout): void {
    const now = this.#owner();
    if (!now || typeof timer !== 'object' || timer === null) return;
    const ref = new WeakRef(timer);
    this.#add({
      kind,
      ...now,
      // Node marks a timer destroyed once cleared, or once a setTimeout has fired.
      live: () => {
        const t = ref.deref() as (NodeJS.Timeout & { _destroyed?: boolean }) | undefined;
        return t !== undefined && t._destroyed !== true;
      },
      undo: () => {
        const t = ref.deref();
        if (t) clearTimeout(t);
      },
    });
  }

  #listener(emitter: EmitterLike, event: string | symbol, listener: Listener): void {
    // Listeners on emitters this evaluation created (a schema, a model) live and die with them:
    // most listeners a model file adds (checked first: cheaper than asking who evaluates).
    if (this.#fresh.has(emitter) || typeof listener !== 'function') return;
    const now = this.#owner();
    if (!now) return;
    const emitterRef = new WeakRef(emitter);
    const listenerRef = new WeakRef(listener);
    const find = () => {
      const e = emitterRef.deref();
      const l = listenerRef.deref();
      if (!e || !l) return undefined;
      return e.rawListeners(event).some((raw: Listener) => raw === l || raw.listener === l) ? { e, l } : undefined;
    };
    this.#add({
      kind: 'listener',
      ...now,
      target: `${emitterName(emitter)} ${describeEvent(event)}`,
      live: () => find() !== undefined,
      undo: () => {
        const found = find();
        found?.e.removeListener(event, found.l);
      },
    });
  }

  #server(server: import('node:net').Server): void {
    const now = this.#owner();
    if (!now) return;
    const ref = new WeakRef(server);
    this.#add({
      kind: 'server',
      ...now,
      live: () => ref.deref()?.listening === true,
      undo: () => ref.deref()?.close(),
    });
  }

  #socket(socket: import('node:net').Socket): void {
    const now = this.#owner();
    if (!now) return;
    const ref = new WeakRef(socket);
    this.#add({
      kind: 'socket',
      ...now,
      live: () => {
        const s = ref.deref();
        return s !== undefined && !s.destroyed;
      },
      // Counted, never closed: a socket opened while a module evaluates is usually a database
      // client's, which its adapter closes or reuses; destroying it would break a reused client.
      undo: () => {},
    });
  }
}

function emitterName(emitter: object): string {
  if (emitter === globalThis.process) return 'process';
  return (emitter as { constructor?: { name?: string } }).constructor?.name || 'emitter';
}

function describeEvent(event: string | symbol): string {
  return typeof event === 'symbol' ? event.toString() : `'${event}'`;
}
