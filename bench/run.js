// `npm run bench`: runs each benchmark in a fresh process and writes bench/results/latest.md
// (a table) and bench/results/heap.svg (heap after GC per reload), side by side in one run.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaleRow } from './scale-pairs.js';

const here = import.meta.dirname;
const reloads = Number(process.env.BENCH_RELOADS ?? 100);
const strategies = ['orm-hmr', 'overwriteModels', 'deleteModel', 'guard'];
const typeormStrategies = ['typeorm:orm-hmr', 'typeorm:plain'];
const MB = 1024 * 1024;

const leak = (strategy) => {
  process.stderr.write(`leak: ${strategy}, ${reloads} reloads...\n`);
  const out = execFileSync(process.execPath, ['--expose-gc', join(here, 'leak.js'), strategy, String(reloads)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
};
const results = strategies.map(leak);
const typeormResults = typeormStrategies.map(leak);

process.stderr.write('overhead...\n');
const overhead = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', join(here, 'overhead.js')], { encoding: 'utf8' }).trim().split('\n').at(-1),
);
process.stderr.write("orm-hmr's own memory (per reload, and in next dev with each bundler)...\n");
const own = JSON.parse(
  execFileSync(process.execPath, [join(here, 'own-memory.js')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1),
);
process.stderr.write('update latency...\n');
const latency = JSON.parse(
  execFileSync(process.execPath, [join(here, 'latency.js'), String(Number(process.env.BENCH_EDITS ?? 10))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1),
);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const lastJson = (out) => JSON.parse(out.trim().split('\n').at(-1));
// Scale: both strategies' processes side by side, their reloads alternated (bench/scale-pairs.js).
const scalePairs = Number(process.env.BENCH_SCALE_PAIRS ?? 9);
const scaleRounds = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
const scale = [];
for (const models of [10, 100, 1000]) {
  process.stderr.write(`scale: ${models} models, ${scalePairs} pairs of ${scaleRounds} rounds...\n`);
  scale.push(await scaleRow(models, { pairs: scalePairs, rounds: scaleRounds }));
}
// The pause a measurement adds to requests, at two heap sizes, with and without the plugin.
const pauses = [50, 200].flatMap((heapMB) =>
  ['plain', 'orm-hmr'].map((strategy) => {
    process.stderr.write(`pause: ${heapMB} MB heap, ${strategy}...\n`);
    return lastJson(execFileSync(process.execPath, [join(here, 'pause.js'), String(heapMB), strategy], { encoding: 'utf8' }));
  }),
);
// SQL: PostgreSQL's own connection count after 50 reloads of a module creating a pg Pool, then
// MariaDB's for a mysql2 pool (the script starts its own servers and runs each strategy in a child).
const sql = lastJson(execFileSync(process.execPath, [join(here, 'sql-connections.js'), '50'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
const sqlRows = [
  ['without orm-hmr', sql.plain],
  ['with orm-hmr', sql['orm-hmr']],
  ['mysql2 pool on MariaDB, without orm-hmr', sql.mysql2.plain],
  ['mysql2 pool on MariaDB, with orm-hmr', sql.mysql2['orm-hmr']],
  // postgres.js (`postgres(url, { max })`) and Prisma 7 over @prisma/adapter-pg (`max`), the same way.
  ...Object.entries(sql.clients ?? {}).flatMap(([client, r]) => [
    [`${client}, without orm-hmr`, r.plain],
    [`${client}, with orm-hmr`, r['orm-hmr']],
  ]),
].map(([name, r]) => `| ${name} | ${r.before} | ${r.max} | ${r.after} | ${r.insertsPerSecond} | ${r.failures} |`);
process.stderr.write('trace (who holds it) at 50 and 200 MB...\n');
const traces = [50, 200].map((mb) =>
  JSON.parse(execFileSync(process.execPath, ['--expose-gc', join(here, 'trace.js'), String(mb)], { encoding: 'utf8' }).trim().split('\n').at(-1)),
);
const traceRows = traces.map(
  (t) =>
    `| ${t.heapMB.toFixed(0)} MB | ${(t.read.nodes / 1e6).toFixed(2)} M | ${t.snapshotMB.toFixed(0)} MB | ${(t.ms / 1000).toFixed(1)} s | ${(t.snapshotMs / 1000).toFixed(1)} s | ${(t.readAndSearchMs / 1000).toFixed(1)} s | ${t.peakRssMB.toFixed(0)} MB (from ${t.baseRssMB.toFixed(0)} MB) | ${(t.read.readMs / 1000).toFixed(1)} s, +${(t.read.peakRssMB - t.read.baseRssMB).toFixed(0)} MB |`,
);
const ms = (v) => `${v < 1 ? v.toFixed(3) : v.toFixed(1)} ms`;
const restart = median(latency.tsx);
const latencyRows = [
  ['orm-hmr + Vite (`ssrLoadModule` per request)', latency.vite, 10],
  ['orm-hmr + webpack server HMR (`webpack/hot/poll?100`, NestJS style)', latency.webpack, 10],
  ['orm-hmr + Rspack server HMR (`@rspack/core/hot/poll?100`, NestJS 12 style)', latency.rspack, 10],
  ['`orm-hmr dev server.ts` (the plain Node server, reloaded in place)', latency.node, 20],
  ['`tsx watch server.ts` restarting the server (and reconnecting)', latency.tsx],
].map(([name, times, target]) => {
  const sorted = [...times].sort((a, b) => a - b);
  const speedup = restart / median(times);
  return `| ${name} | ${ms(median(times))} | ${ms(sorted[0])} – ${ms(sorted.at(-1))} | ${times === latency.tsx ? '1×' : `${speedup.toFixed(1)}× sooner`} | ${target ? `${target}×: ${speedup >= target ? 'met' : '**missed**'}` : ''} |`;
});
const verdict = (ok) => (ok ? 'met' : '**missed**');
const scaleRows = scale.map(
  (r) =>
    `| ${r.models} | ${ms(r.withoutMs)} | ${ms(r.withMs)} | ${r.ratio.toFixed(2)}× (${r.ratioRange.map((x) => x.toFixed(2)).join(' – ')}) | ${ms(r.perFileMs)} | ${r.models === 1000 ? `≤ 1.2×: ${verdict(r.ratio <= 1.2)}; ` : ''}< 0.1 ms: ${verdict(r.perFileMs < 0.1)} |`,
);
const pauseRows = [50, 200].map((heapMB) => {
  const [plain, ours] = ['plain', 'orm-hmr'].map((strategy) => pauses.find((p) => p.heapMB === heapMB && p.strategy === strategy));
  const forced = ours.measuredBy.filter((by) => by === 'forced').length;
  return `| ${heapMB} MB | ${ms(plain.maxWaitMs)} (p99 ${ms(plain.p99WaitMs)}) | ${ms(ours.maxWaitMs)} (p99 ${ms(ours.p99WaitMs)}) | ${ours.measuredBy.length} records: ${forced} after a forced GC, ${ours.measuredBy.filter((by) => by === 'v8').length} after V8's own, ${ours.measuredBy.filter((by) => by === 'none').length} without | ${ours.leakNamedAtReload ?? 'not named'} | ${verdict(ours.maxWaitMs - plain.maxWaitMs <= 20)} |`;
});
const startDelta = overhead.coldStartMs.with / overhead.coldStartMs.without - 1;
const overheadRows = [
  `| bookkeeping per re-evaluated file, 10 models in the app | ${ms(overhead.bookkeepingMs.models10)} | < 0.1 ms | ${verdict(overhead.bookkeepingMs.models10 < 0.1)} |`,
  `| bookkeeping per re-evaluated file, 100 models | ${ms(overhead.bookkeepingMs.models100)} | < 0.1 ms | ${verdict(overhead.bookkeepingMs.models100 < 0.1)} |`,
  `| bookkeeping per re-evaluated file, 500 models | ${ms(overhead.bookkeepingMs.models500)} | < 0.1 ms | ${verdict(overhead.bookkeepingMs.models500 < 0.1)} |`,
  `| transform, non-model module (Vite 6.3+ skips the call by its hook filter) | ${ms(overhead.transformMs.plainModule)} | < 0.05 ms | ${verdict(overhead.transformMs.plainModule < 0.05)} |`,
  `| transform, model module (wrapped) | ${ms(overhead.transformMs.modelModule)} | | |`,
  `| dev server cold start + first load, 30-module app | ${ms(overhead.coldStartMs.without)} without, ${ms(overhead.coldStartMs.with)} with (${(startDelta * 100).toFixed(0)}%) | within 5% | ${verdict(startDelta <= 0.05)} |`,
  `| orm-hmr's own heap per reload (${own.reloads} reloads of two model files, with the report and the ledger page's history; all the process kept) | ${(own.perReload / 1024).toFixed(1)} KB | < 10 KB | ${verdict(own.perReload < 10 * 1024)} |`,
  ...Object.entries(own.next).map(
    ([bundler, n]) => `| loading it in a Next.js dev server (\`next dev\`${bundler === 'webpack' ? ' --webpack' : ''}), heap after GC with \`withOrmHmr\` minus without | ${(n.cost / MB).toFixed(2)} MB (${(n.with / MB).toFixed(1)} against ${(n.without / MB).toFixed(1)} MB) | < 2 MB | ${verdict(n.cost < 2 * MB)} |`,
  ),
  ...overhead.gc.map(
    (g) => `| a forced full GC at a ${g.heapMB} MB heap; longest wait of a timer meanwhile | ${ms(g.gcMs)}; ${ms(g.requestWaitMs)} | only while no request is served | see Pause |`,
  ),
];
const growth = (r) => r.samples.at(-1).heapUsed - r.samples[0].heapUsed;
const by = (name) => results.find((r) => r.strategy === name);
const ours = by('orm-hmr');
// One generation's size: what each reload leaks under overwriteModels, less what the dev server
// itself grows by per reload (the guard applies no edit, so its growth is Vite's own).
const generation = (growth(by('overwriteModels')) - growth(by('guard'))) / reloads;
const met = growth(ours) <= generation + growth(by('guard'));
const rows = results.map(
  (r) => `| ${r.strategy} | ${r.applied}/${r.reloads} | ${r.alive} | ${(growth(r) / MB).toFixed(1)} MB | ${((growth(r) / r.reloads) / 1024).toFixed(0)} KB |`,
);
const typeormRows = typeormResults.map(
  (r) => `| ${r.strategy.slice('typeorm:'.length)} | ${r.applied}/${r.reloads} | ${r.alive} | ${r.registry.tables} / ${r.registry.columns} | ${(growth(r) / MB).toFixed(1)} MB | ${((growth(r) / r.reloads) / 1024).toFixed(0)} KB |`,
);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GB, Node ${process.version}`;
const markdown = `# orm-hmr benchmark

Measured ${new Date().toISOString()} on ${machine}.

## Leak: ${reloads} reloads of a Mongoose model module holding about 1 MB

Each strategy in its own process, through a real Vite dev server (\`ssrLoadModule\`), heap after a
full GC. "Edits applied": reloads whose new schema field was there. "Generations alive": distinct
model objects still reachable at the end (1 is healthy).

| strategy | edits applied | generations alive | heap growth | per reload |
| --- | --- | --- | --- | --- |
${rows.join('\n')}

One generation of this module is about ${(generation / MB).toFixed(2)} MB. Target: orm-hmr's growth over
${reloads} reloads at most one generation beyond the dev server's own growth (the guard's, which
applies no edit): ${(growth(ours) / MB).toFixed(1)} MB against ${((generation + growth(by('guard'))) / MB).toFixed(1)} MB, **${met ? 'met' : 'missed'}**.
The \`overwriteModels\` workaround grows ${(growth(by('overwriteModels')) / Math.max(growth(ours), MB / 10)).toFixed(0)}× as much (orm-hmr counted as at least 0.1 MB), and keeps every generation.

![heap after GC per reload](heap.svg)

## Leak: ${reloads} reloads of a TypeORM entity module holding about 1 MB

The same module weight as an \`@Entity\` class (three decorated columns, the data referenced by a
static), same measurements. TypeORM has no guard or overwrite switch to compare with: without
orm-hmr, each evaluation pushes its decorators' args into the global \`MetadataArgsStorage\` again,
and they hold the class. "Registry entries": tables / columns in that storage at the end.

| strategy | edits applied | generations alive | registry entries | heap growth | per reload |
| --- | --- | --- | --- | --- | --- |
${typeormRows.join('\n')}

## Update latency: from saving a model file to the first response that reflects it

The playground app, a copy of it edited ${latency.edits} times (a new schema field each time; the
clock stops at the first \`GET /api/users\` whose fields list it, polled every 5 ms). Targets: a
live edit at least 10× sooner than a restart under a bundler, 20× for \`orm-hmr dev\`, which
replaces \`tsx watch\` for the same server.

| how | median | range | vs restart | target |
| --- | --- | --- | --- | --- |
${latencyRows.join('\n')}

webpack's and Rspack's time is mostly their own: the rebuild, and the app's poll for the update
(every 100 ms, so 50 ms on average); Rspack rebuilds in a fraction of webpack's time.

## Overhead

| what | measured | target | |
| --- | --- | --- | --- |
${overheadRows.join('\n')}

Bookkeeping is registration-driven: adapters report what a file registers as it registers it, so
a re-evaluated file costs what it registers, whatever the app holds (see Scale). The cold-start
app is tiny (tens of ms), so loading the runtime itself shows as a percentage; it is a fixed cost
of a few ms.

## Scale: a helper every model imports, edited

N Mongoose model files that all import one shared helper; the helper is edited, so one reload
re-evaluates all N (Vite 8, \`ssrLoadModule\`, no GC in the measurement). Without orm-hmr the
models need \`overwriteModels\` to take the edit. Each strategy in its own process; ${scalePairs} pairs of
processes, one of each strategy alive side by side (started one after the other, which one first
swapped every pair), their reloads alternated (the order swapped every round), ${scaleRounds} rounds per
pair after two untimed reloads each: both are timed in the same
minutes of the machine's drifting speed. "Ratio": the median reload with orm-hmr over the median
without (all rounds), with its range over the pairs. "Per file": orm-hmr's own bookkeeping
(\`purgeMs\` over the batch's files).

| models | reload without orm-hmr | with orm-hmr | ratio | per file | targets |
| --- | --- | --- | --- | --- | --- |
${scaleRows.join('\n')}

## Pause: what the measurement adds to requests

A process whose heap is padded to 50 or 200 MB of small long-lived objects, a Vite dev server
serving the app over HTTP, polled every 20 ms by a client in the same process (a GC pause stops
both): 10 reloads of a clean model, each followed by 1.5 s of polling; the longest request wait,
leaving out the request that runs the reload. orm-hmr never forces a GC while requests come in: it
counts after V8's own next major GC, or forces one once the server has had no request for 200 ms,
or (busy without a break for 30 s) reports without one. Then a leaky model, edited as a person works (three
requests, then a pause): the reload at which the leak is named (\`leakAfter\` 3).

| heap | longest wait without orm-hmr | with orm-hmr | how the reloads were measured | leak named at reload | at most 20 ms more |
| --- | --- | --- | --- | --- | --- |
${pauseRows.join('\n')}

## Connections: PostgreSQL connections after ${sql.reloads} reloads, without and with orm-hmr

A module creating \`new pg.Pool({ max: ${sql.pool} })\` at its top level (below it, the same with
\`postgres(url, { max: ${sql.pool} })\` and with Prisma 7's \`new PrismaClient({ adapter: new PrismaPg({ max: ${sql.pool} }) })\`), edited ${sql.reloads} times (one save
every 100 ms or so, Vite 8 \`ssrLoadModule\`) while ${sql.workers} loops insert through whatever it exports
now, on a throwaway PostgreSQL (Debian's package). PostgreSQL counts the client connections
itself (\`pg_stat_activity\`): before the first edit, the most seen after any edit, and after the last.
The last two rows: the same with \`mysql2\`'s \`createPool({ connectionLimit: ${sql.pool} })\` on a throwaway MariaDB
(Debian's \`mariadb-server\`), counted by \`information_schema.PROCESSLIST\`.

| strategy | before | max | after ${sql.reloads} reloads | inserts per second while reloading | failed |
| --- | --- | --- | --- | --- | --- |
${sqlRows.join('\n')}

## Who holds it: one retainer path trace

\`traceRetainers()\` on a heap of small objects with one old generation held through a closure
(found: \`${traces[0].path}\`). V8 writes the snapshot with the process stopped; peak RSS is
the process's high-water mark, nearly all of it V8 building the snapshot. "Reader alone" reads the
same file in a fresh process.

| heap after GC | snapshot nodes | snapshot file | total | V8 writing the snapshot | reading + search | peak RSS | reader alone: time, RSS growth |
| --- | --- | --- | --- | --- | --- | --- | --- |
${traceRows.join('\n')}
`;

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'latest.md'), markdown);
// README's "Numbers" section is this run's report, between its markers.
const readmePath = join(here, '..', 'README.md');
const [start, end] = ['<!-- numbers:start (written by npm run bench) -->', '<!-- numbers:end -->'];
const readme = readFileSync(readmePath, 'utf8');
if (readme.includes(start) && readme.includes(end)) {
  const section = markdown.replace(/^# .*\n+/, '').replace(/^## /gm, '### ').replace('](heap.svg)', '](bench/results/heap.svg)');
  writeFileSync(readmePath, `${readme.slice(0, readme.indexOf(start) + start.length)}\n${section.trim()}\n${readme.slice(readme.indexOf(end))}`);
}
writeFileSync(join(here, 'results', 'heap.svg'), chart(results));
console.log(markdown);

/** A small self-contained SVG line chart: heap after GC (MB) against reload number. */
function chart(series) {
  const width = 640, height = 320, left = 56, right = 150, top = 20, bottom = 40;
  const colors = ['#1f9d55', '#e3342f', '#f6993f', '#6574cd'];
  const maxX = reloads;
  const maxY = Math.max(...series.flatMap((s) => s.samples.map((p) => p.heapUsed / MB))) * 1.1;
  const x = (v) => left + (v / maxX) * (width - left - right);
  const y = (v) => top + (1 - v / maxY) * (height - top - bottom);
  const lines = series.map((s, i) => {
    const points = s.samples.map((p) => `${x(p.reload).toFixed(1)},${y(p.heapUsed / MB).toFixed(1)}`).join(' ');
    const last = s.samples.at(-1);
    return `<polyline fill="none" stroke="${colors[i]}" stroke-width="2" points="${points}"/>` +
      `<text x="${x(last.reload) + 6}" y="${y(last.heapUsed / MB) + 4}" font-size="12" fill="${colors[i]}">${s.strategy}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = maxY * f;
    return `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(0)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${ticks.join('\n')}
<text x="14" y="${height / 2}" font-size="12" transform="rotate(-90 14 ${height / 2})" text-anchor="middle">heap after GC (MB)</text>
<text x="${(left + width - right) / 2}" y="${height - 8}" font-size="12" text-anchor="middle">reload</text>
${lines.join('\n')}
</svg>
`;
}
