// The pause a reload's measurement adds to requests, one JSON line. A Vite dev server (middleware
// mode, the app loaded with `ssrLoadModule` per request) in a process whose heap is padded to
// <heapMB>, served over HTTP and polled every 20 ms by a client in the same process (a GC pause
// stops both): 10 reloads of a clean model, each followed by 1.5 s of polling. Longest request
// wait, leaving out the request that runs the reload itself. Then, with orm-hmr, a leaky model
// edited the way a person works (a few requests, then a pause) until the leak is named.
//   node bench/pause.js <heapMB> <orm-hmr|plain>
import { writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { benchProject, benchServer } from './dev-server.js';
import { ormHmr } from '../dist/vite/index.js';
import { onReport } from '../dist/runtime/index.js';

const heapMB = Number(process.argv[2] ?? 50);
const strategy = process.argv[3] ?? 'orm-hmr';
const withPlugin = strategy === 'orm-hmr';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Long-lived small objects, as a big app's heap holds: what makes a full GC slow.
const padding = [];
while (process.memoryUsage().heapUsed < heapMB * 1024 * 1024) padding.push(Array.from({ length: 1000 }, (_, i) => ({ i })));

const root = benchProject(`pause-${heapMB}-${strategy}`);
mkdirSync(join(root, 'models'));
const model = (version, leaky) => `import mongoose from 'mongoose';
${leaky ? "const held = (globalThis.__benchHeld ??= []);\n" : ''}const schema = new mongoose.Schema({ name: String, f${version}: String });
${withPlugin ? '' : "mongoose.set('overwriteModels', true);\n"}export const User = mongoose.model('PauseUser', schema);
${leaky ? 'held.push(User);\n' : ''}`;
const file = join(root, 'models', 'user.ts');
writeFileSync(file, model(0, false));
const vite = await benchServer(root, withPlugin ? [ormHmr({ memoryLine: false, settleMs: 100 })] : []);
const http = createServer(async (req, res) => {
  const { User } = await vite.ssrLoadModule(file);
  res.end(JSON.stringify(Object.keys(User.schema.paths)));
});
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${http.address().port}/`;
const timed = async () => {
  const start = performance.now();
  await (await fetch(url)).text();
  return performance.now() - start;
};
const records = [];
onReport((record) => records.push(record));

const edit = (version, leaky) => {
  writeFileSync(file, model(version, leaky));
  vite.moduleGraph.onFileChange(file);
};

await timed();
const waits = [];
for (let version = 1; version <= 10; version++) {
  edit(version, false);
  await timed(); // runs the reload: not the measurement's doing
  const until = performance.now() + 1500;
  while (performance.now() < until) {
    waits.push(await timed());
    await sleep(20);
  }
}
const sorted = [...waits].sort((a, b) => a - b);
const result = {
  heapMB,
  strategy,
  requests: waits.length,
  maxWaitMs: sorted.at(-1),
  p99WaitMs: sorted[Math.floor(sorted.length * 0.99)],
  measuredBy: records.map((record) => record.gcBy),
};

if (withPlugin) {
  // A leak, edited as a person does: save, a few requests, a pause.
  const before = records.length;
  for (let version = 11; version <= 20; version++) {
    edit(version, true);
    for (let i = 0; i < 3; i++) {
      await timed();
      await sleep(50);
    }
    await sleep(800);
    const named = records.slice(before).findIndex((record) => record.warnings.some((warning) => warning.subject === 'PauseUser'));
    if (named >= 0 || version === 20) {
      result.leakPhase = records.slice(before).map((record) => `${record.gcBy}:${record.alive.PauseUser}`);
      result.leakNamedAtReload = named + 1;
      break;
    }
  }
}
http.close();
await vite.close();
rmSync(root, { recursive: true, force: true });
console.log(JSON.stringify(result));
process.exit(0);
