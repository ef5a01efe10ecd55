import { createServer, type Server } from 'node:http';
import mongoose from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QUIET_MS } from '../dist/ledger/measure.js';
import { configure, enter, onReport, settled } from '../dist/runtime/index.js';
import { until } from './helpers/project.ts';
import type { ReloadRecord } from '../src/ledger/report.ts';

// When the ledger counts generations: a forced full GC stops the world, so it is never forced
// while the process serves requests. These run through the batch timer, as a dev server does
// (not `settled()`, which measures at once).
const m = new mongoose.Mongoose();
let server: Server;
let url: string;

beforeAll(async () => {
  configure({ settleMs: 20, memoryLine: false, gc: true, logger: { info() {}, warn() {}, error() {} } });
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

let version = 0;
function reload(id: string) {
  const handle = enter(id, { imports: { mongoose: m } });
  m.model('Measured', new m.Schema({ ['f' + ++version]: String }));
  handle.commit();
}

function nextRecord(): Promise<ReloadRecord> {
  return new Promise((resolve) => {
    const off = onReport((record) => {
      off();
      resolve(record);
    });
  });
}

it('forces no GC while requests keep coming: it counts after V8’s own major GC, or reports without one', async () => {
  const id = '/app/models/measured.ts';
  reload(id);
  reload(id);
  const record = nextRecord();
  let done = false;
  void record.then(() => (done = true));
  let requests = 0;
  // A page polled every 10 ms, until the line comes.
  while (!done) {
    await (await fetch(url)).text();
    requests++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const measured = await record;
  expect(requests).toBeGreaterThan(5);
  expect(measured.gcBy).not.toBe('forced');
  expect(measured.gcRounds).toBe(0);
  expect(measured.gc).toBe(measured.gcBy === 'v8');
});

it('forces one once nothing was served for a moment, and counts one generation', async () => {
  const id = '/app/models/measured.ts';
  reload(id);
  const record = nextRecord();
  const started = performance.now();
  await (await fetch(url)).text();
  reload(id);
  const measured = await record;
  // Forced only after QUIET_MS without a request (or V8 collected first).
  expect(['forced', 'v8']).toContain(measured.gcBy);
  if (measured.gcBy === 'forced') expect(performance.now() - started).toBeGreaterThanOrEqual(QUIET_MS);
  expect(measured.gc).toBe(true);
  expect(measured.alive.Measured).toBe(1);
});

it('gives saves that keep coming on a busy server a line every second or so, never forcing a GC', async () => {
  const id = '/app/models/measured.ts';
  const records: { record: ReloadRecord; save: number }[] = [];
  let save = 0;
  const off = onReport((record) => records.push({ record, save }));
  let polling = true;
  // A page polled every 10 ms: never quiet, so no forced GC; a save every 150 ms for 3 s (settleMs is 20).
  const poll = (async () => {
    while (polling) {
      await (await fetch(url)).text();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  for (save = 1; save <= 20; save++) {
    reload(id);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const duringSaves = records.length;
  polling = false;
  await poll;
  const last = await settled();
  off();
  // Lines came while the saves went on (not one line 30 s later), each without a pause.
  expect(duringSaves).toBeGreaterThanOrEqual(2);
  expect(records[0]!.save).toBeLessThan(15);
  for (const { record } of records.slice(0, duringSaves)) {
    expect(record.gcBy).not.toBe('forced');
    if (!record.gc) expect(record.verdict).toBe('unknown');
  }
  // The last one is measured (counted after a GC) once asked, or once the page stopped.
  expect(last?.gc ?? records.at(-1)!.record.gc).toBe(true);
});
