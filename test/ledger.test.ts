import { afterEach, describe, expect, it } from 'vitest';
import { onReport, settled, type ReloadRecord } from '../dist/runtime/index.js';
import { userModel } from './helpers/fixtures.ts';
import { Project, startVite, until, type Dev } from './helpers/project.ts';

// Deliberately leaky model files, and clean ones: the ledger must name the first and stay quiet
// about the second. Each reload is one save, measured once the batch settles.

let counter = 0;

/** A model file whose top level starts an interval that captures a big array: one more per reload. */
const intervalModel = (p: string, v: number) => `import mongoose, { Schema } from 'mongoose';
const big = Array.from({ length: 40_000 }, (_, i) => ({ i, v: ${v} }));
setInterval(() => big.length, 60_000).unref();
export const version = ${v};
export const Cache = mongoose.model('${p}Cache', new Schema({ k: String }));
`;

/** Adds a listener on process per reload. */
const listenerModel = (p: string, v: number) => `import mongoose, { Schema } from 'mongoose';
const seen = [];
process.on('orm-hmr-test-${p}', (x) => seen.push(x));
export const version = ${v};
export const Audit = mongoose.model('${p}Audit', new Schema({ k: String }));
`;

/** Keeps every generation of its model in a user-level cache. */
const cachedModel = (p: string, v: number) => `import mongoose, { Schema } from 'mongoose';
export const version = ${v};
export const Tag = mongoose.model('${p}Tag', new Schema({ k: String, v${v}: String }));
(globalThis.__ormHmrTestCache ??= []).push(Tag);
`;

describe('memory ledger', () => {
  let project: Project;
  let dev: Dev;
  let records: ReloadRecord[];
  let unsubscribe: () => void;

  afterEach(async () => {
    // What the leaky fixtures leave in this process, even when a test failed halfway.
    delete (globalThis as { __ormHmrTestCache?: unknown }).__ormHmrTestCache;
    unsubscribe?.();
    await dev?.close();
    project?.remove();
  });

  async function open(file: string, source: (p: string, v: number) => string, options = {}) {
    const p = `L${++counter}`;
    project = new Project('ledger', { [file]: source(p, 1) });
    dev = await startVite(project, { mode: 'runner', options });
    records = [];
    unsubscribe = onReport((record) => records.push(record));
    expect((await dev.load(file)).version).toBe(1);
    return {
      /** Saves version `v`, waits for it to be live and for its batch to be measured. */
      async reload(v: number) {
        await dev.edit(file, source(p, v));
        await until(async () => (await dev.load(file)).version === v, 10_000, `version ${v}`);
        await until(async () => (await settled(), records.at(-1)?.files.includes(file)), 10_000, `reload ${v} measured`);
        return records.at(-1)!;
      },
      p,
    };
  }

  const warningsOf = () => records.flatMap((r) => r.warnings);
  const warnLines = () => dev.logs.filter((line) => line.includes('leaks on reload') || line.includes('heap grows'));

  it('names a module-scope interval that piles up, once, with what it holds', async () => {
    const { reload } = await open('models/cache.ts', intervalModel);
    for (let v = 2; v <= 6; v++) await reload(v);
    const last = records.at(-1)!;
    const timers = last.sideEffects.find((e) => e.kind === 'setInterval' && e.file === 'models/cache.ts');
    expect(timers?.count).toBe(6);
    // Each old interval's closure keeps its generation's module scope (and its array) alive.
    expect(last.generations['models/cache.ts']).toBe(6);
    expect(last.verdict).toBe('leak');
    const warnings = warningsOf();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'side-effect', file: 'models/cache.ts', perReload: 1 });
    expect(warnings[0]!.message).toMatch(/models\/cache\.ts leaks on reload: started \d setInterval timers, one per reload/);
    expect(warnings[0]!.message).toContain('undoSideEffects');
    expect(warnLines()).toHaveLength(1);
    // The memory line draws the climb: one bar per reload, the last one the highest.
    const trend = dev.logs.filter((line) => line.includes('reload #')).at(-1)!.match(/heap [\d.]+ MB ([▁▂▃▄▅▆▇█]+) \(/)?.[1];
    expect(trend).toHaveLength(5);
    expect(trend!.at(-1)).toBe('█');
    expect(trend![0]).toBe('▁');
    // Reported at the reload where old generations had piled up for `leakAfter` (3) reloads.
    expect(records.findIndex((r) => r.warnings.length > 0)).toBe(2);
  });

  it('with undoSideEffects, stops the previous generation\'s interval and stays quiet', async () => {
    const { reload } = await open('models/cache.ts', intervalModel, { undoSideEffects: true });
    for (let v = 2; v <= 6; v++) await reload(v);
    const last = records.at(-1)!;
    expect(last.sideEffects.find((e) => e.kind === 'setInterval')?.count).toBe(1);
    expect(last.generations['models/cache.ts'] ?? 0).toBeLessThanOrEqual(1);
    expect(warningsOf()).toEqual([]);
    expect(last.verdict).toBe('ok');
  });

  it('names a process listener added on every reload', async () => {
    const { reload, p } = await open('models/audit.ts', listenerModel);
    for (let v = 2; v <= 5; v++) await reload(v);
    const listeners = records.at(-1)!.sideEffects.find((e) => e.kind === 'listener');
    expect(listeners).toMatchObject({ file: 'models/audit.ts', count: 5, target: `process 'orm-hmr-test-${p}'` });
    expect(process.listenerCount(`orm-hmr-test-${p}`)).toBe(5);
    const warnings = warningsOf();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain(`added 4 listeners on process 'orm-hmr-test-${p}', one per reload`);
    process.removeAllListeners(`orm-hmr-test-${p}`);
  });

  it('names a model that a user-level cache keeps, with its file', async () => {
    const { reload, p } = await open('models/tag.ts', cachedModel);
    for (let v = 2; v <= 5; v++) await reload(v);
    expect(records.at(-1)!.alive[`${p}Tag`]).toBe(5);
    const warnings = warningsOf();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'generations', subject: `${p}Tag`, file: 'models/tag.ts', perReload: 1 });
    expect(warnings[0]!.message).toContain(`generations of model ${p}Tag alive after GC, one more per reload`);
    expect(warnings[0]!.message).toContain('trace');
    delete (globalThis as { __ormHmrTestCache?: unknown }).__ormHmrTestCache;
  });

  it('with trace, finds who holds the old generations and puts the path in the report', async () => {
    const { reload, p } = await open('models/tag.ts', cachedModel, { trace: true });
    for (let v = 2; v <= 4; v++) await reload(v);
    const traced = records.find((r) => r.retainerPath);
    expect(traced?.warnings).toHaveLength(1);
    expect(traced!.warnings[0]!.message).toContain('holds the old ones: tracing who.');
    // global.__ormHmrTestCache[0] -> model L…Tag (models/tag.ts, generation 1)
    expect(traced!.retainerPath![0]).toContain('__ormHmrTestCache');
    expect(traced!.retainerPath!.at(-1)).toBe(`model ${p}Tag (models/tag.ts, generation 1)`);
    expect(dev.logs.some((line) => line.includes(`trace: ${p}Tag is held by global.__ormHmrTestCache`))).toBe(true);
    expect(dev.logs.some((line) => line.includes('trace: taking a heap snapshot'))).toBe(true);
    // The snapshot went to the project's cache folder and was deleted after reading.
    const { readdirSync, existsSync } = await import('node:fs');
    const cache = project.path('node_modules/.cache/orm-hmr');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
    delete (globalThis as { __ormHmrTestCache?: unknown }).__ormHmrTestCache;
  });

  it('names a heap that climbs with no old generation alive (plain data a global keeps), once', async () => {
    // 1.2 MB of numbers per reload on a global: nothing of the module's, so no generation count moves.
    const hoarder = (p: string, v: number) => `${userModel(p, v)}
(globalThis.__ormHmrTestHeap ??= []).push(Array.from({ length: 150_000 }, (_, i) => i * ${v} + 0.5));
export const version = ${v};
`;
    try {
      const { reload, p } = await open('models/hoard.ts', hoarder);
      for (let v = 2; v <= 14; v++) await reload(v);
      expect(records.at(-1)!.alive[`${p}User`]).toBe(1);
      const warnings = warningsOf();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ kind: 'heap', subject: 'heap' });
      expect(warnings[0]!.perReload).toBeGreaterThan(1_000_000);
      expect(warnings[0]!.message).toMatch(/^heap grows \+1\.\d\d MB per reload over the last \d+ reloads, with no old generation alive \(files reloaded: models\/hoard\.ts\)/);
      expect(records.at(-1)!.verdict).toBe('leak');
    } finally {
      delete (globalThis as { __ormHmrTestHeap?: unknown }).__ormHmrTestHeap;
    }
  });

  it('stays quiet over 50 reloads of a clean model file, whose heap after a plain GC climbs', async () => {
    // A big clean file: after a plain GC, V8 keeps 0.1–0.3 MB of its code per reload for a while
    // (Node 20 until a thorough GC, Node 24 less); only a thorough GC's heap says it is no leak.
    const methods = Array.from({ length: 150 }, (_, i) => i);
    const source = (p: string, v: number) => `${userModel(p, v)}
const extra = new Schema({ ${methods.map((i) => `x${i}: { type: String, default: () => 'd${i}-${v}' }`).join(', ')} });
${methods.map((i) => `extra.methods.m${i} = function () { return this.x${i} + ${v}; };`).join('\n')}
export const Extra = mongoose.model('${p}Extra', extra);
export const version = ${v};
`;
    const { reload, p } = await open('models/user.ts', source);
    for (let v = 2; v <= 51; v++) await reload(v);
    expect(records.length).toBeGreaterThanOrEqual(50);
    expect(warningsOf()).toEqual([]);
    expect(warnLines()).toEqual([]);
    expect(records.every((r) => r.verdict === 'ok')).toBe(true);
    const last = records.at(-1)!;
    expect(last.alive[`${p}User`]).toBe(1);
    expect(last.alive[`${p}Extra`]).toBe(1);
    expect(last.generations['models/user.ts'] ?? 0).toBeLessThanOrEqual(1);
    expect(last.sideEffects.filter((e) => e.file === 'models/user.ts')).toEqual([]);
    const growth = (last.heapUsed - records[0]!.heapUsed) / (records.length - 1);
    console.log(`clean: heap ${(growth / 1024).toFixed(1)} KB per reload over ${records.length} reloads`);
  });
});
