// Scale, one JSON line: an app of N Mongoose model files that all import one shared helper; the
// helper is edited, so the reload re-evaluates every model file (through a real Vite dev server,
// `ssrLoadModule`). One strategy per process: with orm-hmr, or without (`overwriteModels`, the one
// workaround that applies edits); bench/run.js alternates them. Bookkeeping per re-evaluated file
// is orm-hmr's own `purgeMs` over the files of the batch.
//   node --expose-gc bench/scale.js <models> <orm-hmr|plain> [rounds]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchProject, benchServer } from './dev-server.js';
import { ormHmr } from '../dist/vite/index.js';
import { settled } from '../dist/runtime/index.js';

const models = Number(process.argv[2] ?? 100);
const strategy = process.argv[3];
if (strategy !== 'orm-hmr' && strategy !== 'plain') throw new Error('strategy must be orm-hmr or plain');
const rounds = Number(process.argv[4] ?? 5);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function run(withPlugin) {
  const root = benchProject(`scale-${models}-${withPlugin ? 'ormhmr' : 'plain'}`);
  mkdirSync(join(root, 'models'));
  const helper = join(root, 'models', 'helper.ts');
  const writeHelper = (version) =>
    writeFileSync(
      helper,
      `import mongoose from 'mongoose';
${withPlugin ? '' : "mongoose.set('overwriteModels', true);\n"}export const version = ${version};
export const fields = (own: Record<string, unknown>) => ({ ...own, createdAt: Date, v${version}: String });
`,
    );
  writeHelper(0);
  const imports = [];
  const prefix = 'Scale';
  for (let i = 0; i < models; i++) {
    writeFileSync(
      join(root, 'models', `m${i}.ts`),
      `import mongoose from 'mongoose';
import { fields } from './helper.ts';
export const M${i} = mongoose.model('${prefix}${models}_${i}', new mongoose.Schema(fields({ name: String, n${i}: Number })));
`,
    );
    imports.push(`export { M${i} } from './models/m${i}.ts';`);
  }
  writeFileSync(join(root, 'app.ts'), imports.join('\n') + '\n');
  const server = await benchServer(root, withPlugin ? [ormHmr({ memoryLine: false, gc: false, settleMs: 60_000 })] : []);
  const app = join(root, 'app.ts');
  await server.ssrLoadModule(app);
  await settled();
  const reloads = [];
  const bookkeeping = [];
  for (let round = 1; round <= rounds + 1; round++) {
    writeHelper(round);
    server.moduleGraph.onFileChange(helper);
    globalThis.gc();
    const start = performance.now();
    const loaded = await server.ssrLoadModule(app);
    const elapsed = performance.now() - start;
    if (!loaded.M0.schema.path(`v${round}`)) throw new Error('the edit did not apply');
    const record = await settled();
    // The first reload warms Vite's transform cache of the new helper: not counted.
    if (round === 1) continue;
    reloads.push(elapsed);
    if (record) bookkeeping.push(record.purgeMs / record.files.length);
  }
  await server.close();
  rmSync(root, { recursive: true, force: true });
  return { reloadMs: median(reloads), reloadsMs: reloads.map((ms) => Math.round(ms)), bookkeepingPerFileMs: bookkeeping.length ? median(bookkeeping) : undefined };
}

const result = await run(strategy === 'orm-hmr');
console.log(JSON.stringify({ models, strategy, ...result }));
process.exit(0);
