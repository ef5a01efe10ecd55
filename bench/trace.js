// "Who holds it" cost, one JSON line: build a heap of about <MB> MB of small objects with one old
// generation held through a closure, trace its retainer path, report time, peak RSS and snapshot
// size. Peak RSS is the process's high-water mark, so reading the snapshot back is measured again in
// a fresh process (`read` mode) to tell our reader's share from V8's.
//   node --expose-gc bench/trace.js <MB>
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readHeapSnapshot } from '../dist/ledger/heap-snapshot.js';
import { traceRetainers } from '../dist/ledger/retainers.js';

const MB = 1024 * 1024;
// VmHWM, not getrusage: a child's ru_maxrss starts from its parent's high-water mark on Linux.
const maxRssMB = () => {
  try {
    return Number(/VmHWM:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  } catch {
    return process.resourceUsage().maxRSS / 1024;
  }
};

if (process.argv[2] === 'read') {
  const before = maxRssMB();
  const start = performance.now();
  const snapshot = await readHeapSnapshot(process.argv[3]);
  console.log(JSON.stringify({ readMs: performance.now() - start, nodes: snapshot.nodeCount, baseRssMB: before, peakRssMB: maxRssMB() }));
  process.exit(0);
}

const targetMB = Number(process.argv[2] ?? 50);
// Module-scope data as a dev server holds it: many small objects with strings.
const heap = [];
while (process.memoryUsage().heapUsed < targetMB * MB) {
  for (let i = 0; i < 50_000; i++) heap.push({ id: heap.length, name: `item-${heap.length}`, tags: [i] });
  globalThis.gc?.();
}
class Schema {}
function defineModel() {
  const schema = new Schema();
  globalThis.connection = { _queue: [() => schema] };
  return new WeakRef(schema);
}
const ref = defineModel();
globalThis.gc?.();
const heapMB = process.memoryUsage().heapUsed / MB;
const baseRssMB = maxRssMB();
const dir = join(import.meta.dirname, '.tmp', 'trace');
const report = await traceRetainers([{ ref, label: 'Schema User (generation 1)' }], { dir, keep: true });
const peakRssMB = maxRssMB();
const read = JSON.parse(execFileSync(process.execPath, [import.meta.filename, 'read', report.snapshot], { encoding: 'utf8' }).trim().split('\n').at(-1));
rmSync(report.snapshot);
console.log(JSON.stringify({
  heapMB,
  objects: heap.length,
  snapshotMB: report.bytes / MB,
  ms: report.ms,
  snapshotMs: report.snapshotMs,
  readAndSearchMs: report.ms - report.snapshotMs,
  baseRssMB,
  peakRssMB,
  read,
  path: report[0].path?.join(' -> '),
}));
