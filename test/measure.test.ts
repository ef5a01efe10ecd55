import { createServer, type Server } from 'node:http';
import mongoose from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QUIET_MS } from '../dist/ledger/measure.js';
import { configure, enter, onReport } from '../dist/runtime/index.js';
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
