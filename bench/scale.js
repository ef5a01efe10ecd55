// Scale, one JSON line: an app of N Mongoose model files that all import one shared helper; the
// helper is edited, so the reload re-evaluates every model file (through a real Vite dev server,
// `ssrLoadModule`). One strategy per process: with orm-hmr, or without (`overwriteModels`, the one
// workaround that applies edits). Bookkeeping per re-evaluated file is orm-hmr's own `purgeMs`
// over the files of the batch.
//   node --expose-gc bench/scale.js <models> <orm-hmr|plain> [rounds]
// Forked with an IPC channel (bench/scale-pairs.js, which `npm run bench` uses), it loads the app,
// warms up with one reload, says `ready`, then reloads once per `round` message and answers with
// that reload's times: scale-pairs.js keeps one process of each strategy alive and alternates their
// reloads, so both are timed in the same minutes of the machine's drifting speed.
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
  // One reload: the helper edited, the app loaded again through Vite (timed), then measured.
  let version = 0;
  const reload = async () => {
    version++;
    writeHelper(version);
    server.moduleGraph.onFileChange(helper);
    globalThis.gc();
    const start = performance.now();
    const loaded = await server.ssrLoadModule(app);
    const elapsed = performance.now() - start;
    if (!loaded.M0.schema.path(`v${version}`)) throw new Error('the edit did not apply');
    const record = await settled();
    return { reloadMs: elapsed, bookkeepingPerFileMs: record ? record.purgeMs / record.files.length : undefined };
  };
  const close = async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  };
  // The first reload warms Vite's transform cache of the new helper: never counted.
  await reload();
  return { reload, close };
}

const { reload, close } = await run(strategy === 'orm-hmr');
if (process.send) {
  process.on('message', async (message) => {
    if (message === 'round') return process.send(await reload());
    await close();
    process.exit(0);
  });
  process.send('ready');
} else {
  const reloads = [];
  for (let round = 0; round < rounds; round++) reloads.push(await reload());
  await close();
  const times = reloads.map((r) => r.reloadMs);
  const bookkeeping = reloads.map((r) => r.bookkeepingPerFileMs).filter((ms) => ms !== undefined);
  console.log(
    JSON.stringify({
      models,
      strategy,
      reloadMs: median(times),
      reloadsMs: times.map((ms) => Math.round(ms)),
      bookkeepingPerFileMs: bookkeeping.length ? median(bookkeeping) : undefined,
    }),
  );
  process.exit(0);
}
