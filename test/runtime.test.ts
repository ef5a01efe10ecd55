import mongoose from 'mongoose';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { builtinAdapterNames, defineAdapter } from '../dist/index.js';
import { configure, enter, onUnload, settled, unload, useAdapter } from '../dist/runtime/index.js';
import { countAlive } from './helpers/scenarios.ts';

// The runtime as the injected code drives it, on a real Mongoose instance per test. A "module" here
// is a function run between the prologue (`enter`) and the epilogue (`commit`), as a bundler would.
let m: mongoose.Mongoose;
let logs: { level: string; message: string }[];
let n = 0;
let file: (name: string) => string;

beforeEach(() => {
  m = new mongoose.Mongoose();
  logs = [];
  const log = (level: string) => (message: string) => logs.push({ level, message });
  configure({ logger: { info: log('info'), warn: log('warn'), error: log('error') }, root: '/app', settleMs: 5 });
  const run = ++n;
  file = (name) => `/app/run${run}/${name}`;
});
afterEach(async () => {
  await settled();
});

function evaluate<T>(id: string, body: () => T, options: { async?: boolean } = {}): T {
  const handle = enter(id, { imports: { mongoose: m }, async: options.async });
  const result = body();
  handle.commit();
  return result;
}

/** A module whose body throws: the epilogue never runs; the runtime notices on the next microtask. */
async function evaluateThrowing(id: string, body: () => void): Promise<void> {
  enter(id, { imports: { mongoose: m } });
  expect(body).toThrow();
  await Promise.resolve();
}

const schema = (field: string) => new m.Schema({ [field]: String });

describe('generations of one file', () => {
  it('purges the previous generation before the file registers again', () => {
    const id = file('user.ts');
    const first = evaluate(id, () => m.model('User', schema('a')));
    const second = evaluate(id, () => m.model('User', schema('b')));
    expect(second).not.toBe(first);
    expect(m.model('User')).toBe(second);
    expect(m.connection.models.User).toBe(second);
    expect(second.schema.path('b')).toBeDefined();
  });

  it('makes the `models.X ||` guard pick up edits instead of keeping the first schema', () => {
    const id = file('guarded.ts');
    const guarded = (field: string) => evaluate(id, () => m.models.Guarded || m.model('Guarded', schema(field)));
    guarded('first');
    const edited = guarded('edited');
    expect(edited.schema.path('edited')).toBeDefined();
    expect(edited.schema.path('first')).toBeUndefined();
  });

  it('purges models on createConnection() and useDb() connections too', () => {
    const conn = m.createConnection();
    const other = conn.useDb('other', { useCache: true });
    const id = file('multi.ts');
    const gen = (f: string) => evaluate(id, () => [conn.model('Thing', schema(f)), other.model('Thing', schema(f))]);
    gen('a');
    const [thing, otherThing] = gen('b');
    expect(conn.models.Thing).toBe(thing);
    expect(other.models.Thing).toBe(otherThing);
    expect(thing!.schema.path('b')).toBeDefined();
  });

  it('does not pile up plugins or queued inits', () => {
    const id = file('plugged.ts');
    const plugins = (m as unknown as { plugins: unknown[] }).plugins.length;
    for (let i = 0; i < 5; i++) {
      evaluate(id, () => {
        m.plugin(function stamp() {});
        m.model('Plugged', schema('p' + i));
      });
    }
    expect((m as unknown as { plugins: unknown[] }).plugins.length).toBe(plugins + 1);
    // Not connected: one waiting init per live model, not one per generation.
    expect((m.connection as unknown as { _queue: unknown[] })._queue.length).toBe(1);
  });

  it('frees the inits of an unconnected connection with their files, and keeps the queue as long as the app', async () => {
    const files = 200;
    const queue = () => (m.connection as unknown as { _queue: unknown[] })._queue;
    const first: WeakRef<object>[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < files; i++) {
        const model = evaluate(file(`many/m${i}.ts`), () => m.model(`Many${i}`, schema(`r${round}`)));
        if (round === 0) first.push(new WeakRef(model));
        // A queue for all the app's models, plus at most as many removed ones waiting to be compacted.
        expect(queue().length).toBeLessThanOrEqual(2 * files);
      }
    }
    expect(queue().length).toBe(files);
    // Each file's first model was held by its waiting init: gone with it.
    expect(await countAlive(first)).toBe(0);
  });

  it('runs onUnload callbacks before the next evaluation and when the file is deleted', () => {
    const id = file('timers.ts');
    const calls: string[] = [];
    evaluate(id, () => onUnload(() => calls.push('gen1')));
    expect(calls).toEqual([]);
    evaluate(id, () => onUnload(() => calls.push('gen2')));
    expect(calls).toEqual(['gen1']);
    unload(id);
    expect(calls).toEqual(['gen1', 'gen2']);
  });

  it('lets only the live generation survive GC', async () => {
    const id = file('weighty.ts');
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 30; i++) {
      refs.push(new WeakRef(evaluate(id, () => m.model('Weighty', schema('w' + i)))));
    }
    expect(await countAlive(refs)).toBe(1);
    expect(refs.at(-1)!.deref()).toBe(m.model('Weighty'));
  });
});

describe('with the real database', () => {
  it('lets code holding the old model finish what it queued before the connection opened', async () => {
    const id = file('early.ts');
    const old = evaluate(id, () => m.model('Early', schema('a')));
    const queued = old.create({ a: 'queued by the old generation' }); // buffered: not connected yet
    const fresh = evaluate(id, () => m.model('Early', schema('b')));
    await m.connect(inject('mongoUri'));
    try {
      const [doc] = await Promise.all([queued, fresh.create({ b: 'by the new one' })]);
      expect(doc.get('a')).toBe('queued by the old generation');
      expect(await fresh.countDocuments()).toBe(2);
      await fresh.deleteMany({});
    } finally {
      await m.disconnect();
    }
  });
});

describe('failed evaluations', () => {
  it('removes what the failed body registered and puts the previous generation back', async () => {
    const id = file('fragile.ts');
    const good = evaluate(id, () => m.model('Fragile', schema('ok')));
    await evaluateThrowing(id, () => {
      m.model('Fragile', schema('new'));
      m.model('Half', schema('x'));
      throw new Error('syntax of the heart');
    });
    expect(m.model('Fragile')).toBe(good);
    expect(m.modelNames()).not.toContain('Half');
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      `run${n}/fragile.ts threw while evaluating (or a module it imports did); kept the previous Fragile (generation 1) until it evaluates again`,
    ]);
    // A second failure in a row says nothing new.
    await evaluateThrowing(id, () => {
      throw new Error('again');
    });
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    const fixed = evaluate(id, () => m.model('Fragile', schema('fixed')));
    expect(m.model('Fragile')).toBe(fixed);
    const record = await settled();
    expect(record?.failed).toEqual([`run${n}/fragile.ts`]);
  });

  it('waits for a module with top-level await, and rolls it back only when it evaluates again unfinished', async () => {
    const id = file('tla.ts');
    const good = evaluate(id, () => m.model('Tla', schema('a')));
    const handle = enter(id, { imports: { mongoose: m }, async: true });
    const paused = m.model('Tla', schema('b'));
    await new Promise((resolve) => setTimeout(resolve, 10)); // the body awaits something
    expect(m.model('Tla')).toBe(paused);
    handle.commit();
    expect(m.model('Tla')).toBe(paused);

    enter(id, { imports: { mongoose: m }, async: true });
    m.model('Tla', schema('c'));
    // That evaluation threw after its await: nothing tells us, until the file evaluates again.
    const next = evaluate(id, () => m.model('Tla', schema('d')));
    expect(m.model('Tla')).toBe(next);
    expect(good).not.toBe(next);
  });
});

describe('several files', () => {
  it('attributes what a nested evaluation registers to the nested file', () => {
    const outer = file('outer.ts');
    const inner = file('inner.ts');
    evaluate(outer, () => {
      m.model('Outer', schema('o'));
      evaluate(inner, () => m.model('Inner', schema('i'))); // require() in the middle of a body
    });
    const innerModel = m.model('Inner');
    evaluate(outer, () => m.model('Outer', schema('o2'))); // outer alone re-evaluates
    expect(m.model('Inner')).toBe(innerModel);
    expect(m.model('Outer').schema.path('o2')).toBeDefined();
  });

  it('names both files when a second file registers a taken model name', async () => {
    evaluate(file('a.ts'), () => m.model('Taken', schema('a')));
    await evaluateThrowing(file('b.ts'), () => m.model('Taken', schema('b')));
    expect(logs.find((l) => l.message.includes('"Taken"'))?.message).toBe(
      `mongoose model "Taken" is registered by both run${n}/a.ts and run${n}/b.ts; mongoose refuses the second. Keep each name in one file.`,
    );
  });

  it('hands a name over, with a warning, when overwriteModels lets a second file replace it', () => {
    m.set('overwriteModels', true);
    evaluate(file('a.ts'), () => m.model('Shared', schema('a')));
    const b = evaluate(file('b.ts'), () => m.model('Shared', schema('b')));
    expect(logs.some((l) => l.message.includes(`"Shared" is registered by both run${n}/a.ts and run${n}/b.ts`))).toBe(true);
    // a.ts evaluating again must not remove b.ts's model.
    evaluate(file('a.ts'), () => {});
    expect(m.model('Shared')).toBe(b);
  });
});

describe('custom adapters', () => {
  it('covers a registry of your own in a few lines', async () => {
    const bus = new Map<string, Set<() => string>>();
    const on = (event: string, handler: () => string) => {
      if (!bus.has(event)) bus.set(event, new Set());
      bus.get(event)!.add(handler);
    };
    useAdapter(
      defineAdapter({
        name: 'bus',
        *entries() {
          for (const [event, handlers] of bus) for (const handler of handlers) yield { container: handlers, value: handler, label: event };
        },
      }),
    );
    const id = file('listeners.ts');
    evaluate(id, () => on('signup', () => 'v1'));
    evaluate(id, () => on('signup', () => 'v2'));
    expect([...bus.get('signup')!].map((h) => h())).toEqual(['v2']);
    await evaluateThrowing(id, () => {
      on('signup', () => 'broken');
      throw new Error('nope');
    });
    expect([...bus.get('signup')!].map((h) => h())).toEqual(['v2']);
    const record = await settled();
    expect(record?.purged).toContainEqual({ adapter: 'bus', name: 'signup' });
  });

  it('hands an adapter added (or replaced by name) after modules evaluated the packages of the next evaluations', () => {
    const handed = (name: string) => {
      const namespaces: unknown[] = [];
      return { namespaces, adapter: defineAdapter({ name, packages: ['mongoose'], reports: true, attach: (namespace) => void namespaces.push(namespace), entries: () => [] }) };
    };
    const id = file('late-adapter.ts');
    // The runtime now knows which adapters handle `mongoose`: an adapter added later must still be asked.
    evaluate(id, () => m.model('Late', schema('a')));
    const first = handed('late-attach');
    useAdapter(first.adapter);
    evaluate(id, () => m.model('Late', schema('b')));
    expect(first.namespaces).toEqual([m]);
    const second = handed('late-attach');
    useAdapter(second.adapter);
    evaluate(id, () => m.model('Late', schema('c')));
    expect(second.namespaces).toEqual([m]);
    expect(first.namespaces).toEqual([m]);
  });

  it('rejects an adapter without a name or entries', () => {
    expect(() => defineAdapter({} as never)).toThrow(/name/);
    expect(() => defineAdapter({ name: 'x' } as never)).toThrow(/entries/);
  });
});

describe('side effects', () => {
  it('are attributed during a module body, and only during the synchronous start of one with top-level await', async () => {
    const { getRuntime } = await import('../dist/runtime/hook.js');
    const runtime = getRuntime();
    const timers: NodeJS.Timeout[] = [];
    evaluate(file('sync.ts'), () => timers.push(setInterval(() => {}, 60_000)));
    const handle = enter(file('tla.ts'), { imports: { mongoose: m }, async: true });
    timers.push(setInterval(() => {}, 60_000)); // before its first await: the module's
    await Promise.resolve();
    timers.push(setInterval(() => {}, 60_000)); // after it: other code may be running, not the module's
    handle.commit();
    timers.push(setInterval(() => {}, 60_000)); // outside any module
    const relative = (name: string) => file(name).slice('/app/'.length);
    const mine = runtime.ledger.sideEffects.count().filter((effect: { file: string }) => effect.file.startsWith(relative('')));
    expect(mine).toEqual([
      { kind: 'setInterval', file: relative('sync.ts'), count: 1 },
      { kind: 'setInterval', file: relative('tla.ts'), count: 1 },
    ]);
    // What runs in our own bookkeeping is nobody's side effect: here an adapter that waits for a
    // client to be idle (a timer) when a nested module's previous generation is released, while
    // the outer module is still evaluating.
    const clients: object[] = [];
    const waits: NodeJS.Timeout[] = [];
    useAdapter(
      defineAdapter({
        name: 'idle-wait',
        entries: () => clients.map((client) => ({ container: clients, value: client, release: () => (waits.push(setInterval(() => {}, 60_000)), 'closed' as const) })),
      }),
    );
    evaluate(file('inner.ts'), () => clients.push({}));
    evaluate(file('outer.ts'), () => evaluate(file('inner.ts'), () => clients.push({})));
    expect(waits).toHaveLength(1);
    expect(runtime.ledger.sideEffects.count().filter((effect: { file: string }) => effect.file === relative('outer.ts'))).toEqual([]);
    waits.forEach(clearInterval);
    // Node's own functions are back once no module body runs, when the job that ran them ends.
    await new Promise((resolve) => setImmediate(resolve));
    expect(setInterval.name).toBe('setInterval');
    expect(globalThis.setInterval).toBe((await import('node:timers')).setInterval);
    timers.forEach(clearInterval);
  });
});

describe('closed connections', () => {
  it('are dropped from mongoose.connections with their models once a tracked module commits (NestJS bootstraps one per reload)', async () => {
    // As @nestjs/mongoose does on each bootstrap: a connection of its own, models on it, closed on shutdown.
    const bootstrap = async () => {
      const connection = await m.createConnection(inject('mongoUri')).asPromise();
      connection.model('Cat', schema('name'));
      return connection;
    };
    let first: mongoose.Connection | undefined = await bootstrap();
    await first.close();
    const second = await bootstrap();
    expect(m.connections).toContain(first);
    evaluate(file('cats.controller.ts'), () => m.Schema);
    expect(m.connections).not.toContain(first);
    expect(m.connections).toContain(second); // open: kept
    expect(m.connections).toContain(m.connection); // the default one is never dropped
    // The line says what we did, and counts the library's models by name (the first Cat is gone with its connection).
    first = undefined;
    evaluate(file('cats.controller.ts'), () => m.Schema);
    const record = await settled();
    expect(record?.released).toContainEqual({ adapter: 'mongoose', name: 'connection', action: 'dropped' });
    expect(record?.alive.Cat).toBe(1);
    await second.close();
  });
});

describe('registration journal', () => {
  it('never lists a reporting adapter around an evaluation; a listing one is listed twice per evaluation', async () => {
    const { getRuntime } = await import('../dist/runtime/hook.js');
    const runtime = getRuntime();
    const listings = new Map<string, number>();
    const restores: (() => void)[] = [];
    for (const adapter of runtime.host.adapters) {
      const entries = adapter.entries;
      (adapter as { entries: typeof entries }).entries = function (this: unknown) {
        listings.set(adapter.name, (listings.get(adapter.name) ?? 0) + 1);
        return entries.call(this);
      };
      restores.push(() => ((adapter as { entries: typeof entries }).entries = entries));
    }
    const registry = new Set<object>();
    useAdapter(
      defineAdapter({
        name: 'listed',
        entries() {
          listings.set('listed', (listings.get('listed') ?? 0) + 1);
          return [...registry].map((value) => ({ container: registry, value, label: 'thing' }));
        },
      }),
    );
    try {
      for (let i = 0; i < 3; i++) {
        evaluate(file('counted.ts'), () => {
          const Counted = m.model('Counted', schema('c' + i));
          Counted.discriminator('CountedChild', schema('d' + i));
          m.plugin(function counted() {});
          registry.add({});
        });
      }
      for (const adapter of runtime.host.adapters.filter((a: { reports?: boolean }) => a.reports)) expect(listings.get(adapter.name) ?? 0, adapter.name).toBe(0);
      expect(listings.get('listed')).toBe(6);
      expect(registry.size).toBe(1);
      expect(m.model('Counted').discriminators?.CountedChild).toBe(m.model('CountedChild'));
      // After the batch, one sweep lists each reporting adapter once, off the request's path.
      await settled();
      for (const adapter of runtime.host.adapters.filter((a: { reports?: boolean }) => a.reports)) expect(listings.get(adapter.name), adapter.name).toBe(1);
    } finally {
      restores.forEach((restore) => restore());
      useAdapter(defineAdapter({ name: 'listed', entries: () => [] }));
    }
  });

  it('counts models registered outside any tracked module (a library bootstrapping its own), by name', async () => {
    evaluate(file('tracked.ts'), () => m.model('Tracked', schema('t')));
    const connection = m.createConnection();
    connection.model('Bootstrapped', schema('b')); // as @nestjs/mongoose does, outside our evaluations
    evaluate(file('tracked.ts'), () => m.model('Tracked', schema('t2')));
    const record = await settled();
    expect(record?.alive.Bootstrapped).toBe(1);
    expect(record?.alive.Tracked).toBe(1);
    await connection.close();
  });
});

describe('side effects, by who started them', () => {
  it('counts a once() listener once', async () => {
    const { getRuntime } = await import('../dist/runtime/hook.js');
    const listener = () => {};
    evaluate(file('once.ts'), () => process.once('orm-hmr-test-once' as never, listener));
    const relative = file('once.ts').slice('/app/'.length);
    expect(getRuntime().ledger.sideEffects.count().filter((effect: { file: string }) => effect.file === relative)).toEqual([
      { kind: 'listener', file: relative, count: 1, target: "process 'orm-hmr-test-once'" },
    ]);
    process.removeListener('orm-hmr-test-once', listener);
  });

  it('charges a library first required inside a model body with its own timers, and undoSideEffects leaves them', async () => {
    const { getRuntime } = await import('../dist/runtime/hook.js');
    const { createRequire } = await import('node:module');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(import.meta.dirname, '.tmp', 'lib-'));
    const library = join(dir, 'pool.cjs');
    writeFileSync(library, `exports.reaper = setInterval(() => {}, 60_000);\n`);
    const require = createRequire(library);
    configure({ undoSideEffects: true });
    const id = file('uses-pool.ts');
    const relative = id.slice('/app/'.length);
    try {
      let reaper: NodeJS.Timeout | undefined;
      let own: NodeJS.Timeout | undefined;
      evaluate(id, () => {
        reaper = require(library).reaper; // first evaluation of the library, inside the model's body
        own = setInterval(() => {}, 60_000);
      });
      expect(getRuntime().ledger.sideEffects.count().filter((effect: { file: string }) => effect.file === relative)).toEqual([{ kind: 'setInterval', file: relative, count: 1 }]);
      evaluate(id, () => require(library));
      // The model's own interval was stopped before it evaluated again; the library's was not.
      expect((own as unknown as { _destroyed: boolean })._destroyed).toBe(true);
      expect((reaper as unknown as { _destroyed: boolean })._destroyed).toBe(false);
      clearInterval(reaper);
    } finally {
      configure({ undoSideEffects: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('adapters dropped', () => {
  it('undo what they patched, and a new one patches again', async () => {
    const { getRuntime } = await import('../dist/runtime/hook.js');
    const runtime = getRuntime();
    const proto = Object.getPrototypeOf(m) as { model: unknown };
    evaluate(file('patched.ts'), () => m.model('Patched', schema('a'))); // attaches, hooks model()
    const hooked = proto.model;
    runtime.host.choose(['typeorm']);
    try {
      expect(proto.model).not.toBe(hooked);
      expect(String(proto.model)).toContain('_mongoose'); // Mongoose's own function again
    } finally {
      runtime.host.choose(builtinAdapterNames);
    }
    const id = file('patched-again.ts');
    evaluate(id, () => m.model('PatchedAgain', schema('a')));
    const second = evaluate(id, () => m.model('PatchedAgain', schema('b')));
    expect(m.model('PatchedAgain')).toBe(second);
  });
});
