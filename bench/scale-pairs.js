// The scale rows' method: for each model count, `pairs` pairs of processes (bench/scale.js), one
// without orm-hmr and one with, alive side by side. Their reloads alternate, one at a time, the
// order swapped every round (ABBA), so both strategies are timed in the same minutes: this
// machine's speed drifts by tens of percent from minute to minute, which a ratio between processes
// run one after the other took for orm-hmr's cost. The row's ratio is the median reload with
// orm-hmr over the median without, all rounds of all pairs; its range, the same ratio per pair.
//   node bench/scale-pairs.js [models...]   (prints one JSON line per model count)
import { fork } from 'node:child_process';
import { join } from 'node:path';

const here = import.meta.dirname;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function start(models, strategy) {
  const child = fork(join(here, 'scale.js'), [String(models), strategy], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  const waiting = [];
  child.on('message', (message) => (waiting.length > 0 ? waiting.shift()(message) : replies.push(message)));
  const failed = new Promise((_, reject) => child.on('exit', (code) => code !== 0 && reject(new Error(`bench/scale.js ${models} ${strategy} exited with ${code}`))));
  const next = () => Promise.race([replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((resolve) => waiting.push(resolve)), failed]);
  return {
    ready: next(),
    async round() {
      child.send('round');
      return next();
    },
    stop: () => new Promise((resolve) => (child.once('exit', resolve), child.send('close'))),
  };
}

/** Starts two processes of bench/scale.js one after the other; resolves once both are ready. */
async function startBoth(models, first, second) {
  const a = start(models, first);
  await a.ready;
  const b = start(models, second);
  await b.ready;
  return [a, b];
}

export async function scaleRow(models, { pairs = 9, rounds = 3 } = {}) {
  const plainMs = [];
  const withMs = [];
  const pairRatios = [];
  const perFile = [];
  for (let pair = 0; pair < pairs; pair++) {
    // Started one after the other (loading both at once would slow down each other's warm-up),
    // which first swapped every pair: the first one idles while the second loads, and an A/A run
    // (orm-hmr against itself) timed the first 15% slower. One more reload each, not timed, after.
    const [plain, ours] = pair % 2 === 0 ? await startBoth(models, 'plain', 'orm-hmr') : (await startBoth(models, 'orm-hmr', 'plain')).reverse();
    await plain.round();
    await ours.round();
    const pairPlain = [];
    const pairWith = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 4 === 0 || round % 4 === 3 ? [plain, ours] : [ours, plain];
      const results = new Map();
      for (const side of order) results.set(side, await side.round());
      pairPlain.push(results.get(plain).reloadMs);
      pairWith.push(results.get(ours).reloadMs);
      perFile.push(results.get(ours).bookkeepingPerFileMs);
    }
    await Promise.all([plain.stop(), ours.stop()]);
    plainMs.push(...pairPlain);
    withMs.push(...pairWith);
    pairRatios.push(median(pairWith) / median(pairPlain));
  }
  return {
    models,
    withoutMs: median(plainMs),
    withMs: median(withMs),
    ratio: median(withMs) / median(plainMs),
    ratioRange: [Math.min(...pairRatios), Math.max(...pairRatios)],
    perFileMs: median(perFile),
  };
}

if (process.argv[1] === import.meta.filename) {
  for (const models of process.argv.slice(2).map(Number)) console.log(JSON.stringify(await scaleRow(models)));
}
