// Overhead, one JSON line: bookkeeping per re-evaluated file, transform time per module, dev
// server cold start with and without the plugin, and what a forced full GC costs at two heap sizes.
//   node --expose-gc bench/overhead.js
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { parseAst } from 'vite';
import { benchProject, benchServer } from './dev-server.js';
import { configure, enter } from '../dist/runtime/index.js';
import { transformModule } from '../dist/transform/index.js';
import { ormHmr } from '../dist/vite/index.js';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
configure({ memoryLine: false, gc: false, settleMs: 60_000 });

// 1. Bookkeeping per re-evaluated file, with `models` models registered across the app.
function bookkeeping(models) {
  const m = new mongoose.Mongoose();
  const files = models / 2;
  for (let f = 0; f < files; f++) {
    const handle = enter(`/bench/${models}/f${f}.ts`, { imports: { mongoose: m } });
    m.model(`A${f}`, new m.Schema({ a: String }));
    m.model(`B${f}`, new m.Schema({ b: String }));
    handle.commit();
  }
  const ours = [];
  for (let i = 0; i < 300; i++) {
    const schemas = [new m.Schema({ a: String, i: Number }), new m.Schema({ b: String })];
    const t0 = performance.now();
    const handle = enter(`/bench/${models}/f0.ts`, { imports: { mongoose: m } });
    const t1 = performance.now();
    m.model('A0', schemas[0]);
    m.model('B0', schemas[1]);
    const t2 = performance.now();
    handle.commit();
    ours.push(t1 - t0 + (performance.now() - t2));
  }
  return median(ours.slice(100));
}

// 2. Transform time: a typical non-model module (skipped by the regex) and a model module (wrapped).
function transformTime(code, id) {
  const context = { runtime: '/r.js', packages: ['mongoose'], selected: () => undefined, parse: (s) => parseAst(s) };
  for (let i = 0; i < 200; i++) transformModule(code, id, context);
  const start = performance.now();
  const runs = 2000;
  for (let i = 0; i < runs; i++) transformModule(code, id, context);
  return (performance.now() - start) / runs;
}
const plain = `import { helper } from './helper.ts';\nimport express from 'express';\n` + 'export function f(x) { return helper(x) + 1; }\n'.repeat(120);
const model = `import mongoose, { Schema } from 'mongoose';\n` + 'const s = new Schema({ a: String });\n'.repeat(60) + `export const U = mongoose.model('U', s);\n`;

// 3. Dev server cold start: create the server and load an app of 30 modules, 6 of them models.
async function coldStart(withPlugin) {
  const root = benchProject('cold');
  const imports = [];
  for (let i = 0; i < 30; i++) {
    const isModel = i % 5 === 0;
    const code = isModel
      ? `import mongoose, { Schema } from 'mongoose';\nexport const M${i} = mongoose.models.Cold${i} ?? mongoose.model('Cold${i}', new Schema({ n: String }));\n`
      : Array.from({ length: 20 }, (_, j) => `export const v${i}_${j} = ${i * j};\n`).join('');
    writeFileSync(join(root, `m${i}.ts`), code);
    imports.push(`import * as m${i} from './m${i}.ts';`);
  }
  writeFileSync(join(root, 'app.ts'), `${imports.join('\n')}\nexport const size = ${30};\n`);
  const start = performance.now();
  const server = await benchServer(root, withPlugin ? [ormHmr({ memoryLine: false })] : []);
  await server.ssrLoadModule(join(root, 'app.ts'));
  const elapsed = performance.now() - start;
  await server.close();
  rmSync(root, { recursive: true, force: true });
  return elapsed;
}

// 4. A forced full GC at a given heap size, and the longest a timer (a request) waited meanwhile.
async function gcCost(targetMB) {
  const hold = [];
  while (process.memoryUsage().heapUsed < targetMB * 1024 * 1024) hold.push(Array.from({ length: 1000 }, (_, i) => ({ i })));
  const pauses = [];
  for (let round = 0; round < 5; round++) {
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 1);
      last = now;
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const start = performance.now();
    globalThis.gc();
    const gcMs = performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(timer);
    pauses.push({ gcMs, waitMs: worst });
  }
  hold.length = 0;
  return { heapMB: targetMB, gcMs: median(pauses.map((p) => p.gcMs)), requestWaitMs: median(pauses.map((p) => p.waitMs)) };
}

const result = {
  bookkeepingMs: { models10: bookkeeping(10), models100: bookkeeping(100), models500: bookkeeping(500) },
  transformMs: { plainModule: transformTime(plain, '/app/routes/x.ts'), modelModule: transformTime(model, '/app/models/u.ts') },
  coldStartMs: { without: [], with: [] },
  gc: [],
};
for (let i = 0; i < 5; i++) {
  result.coldStartMs.without.push(await coldStart(false));
  result.coldStartMs.with.push(await coldStart(true));
}
result.coldStartMs = { without: median(result.coldStartMs.without.slice(1)), with: median(result.coldStartMs.with.slice(1)) };
result.gc.push(await gcCost(50), await gcCost(200));
console.log(JSON.stringify(result));
process.exit(0);
