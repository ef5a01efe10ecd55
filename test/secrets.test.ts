import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { onReport, settled, type ReloadRecord } from '../dist/runtime/index.js';
import { Project, startVite, until, type Dev } from './helpers/project.ts';

// A connection string with a password sits in model and connection files, as it often does in
// real apps. Whatever happens (reloads, connections closed and reopened, a connection string
// edited, a broken save whose error quotes the string, a leak and its trace), it must never
// appear in our log lines, the JSONL report or the ledger page.

const PASSWORD = 'hunter2-Secret-pw';

/** The test database's URI, with credentials (FerretDB takes PLAIN against its SQLite backend). */
function secretUri(database: string): string {
  const url = new URL(inject('mongoUri'));
  url.username = 'orm-user';
  url.password = PASSWORD;
  url.pathname = `/${database}`;
  url.searchParams.set('authMechanism', 'PLAIN');
  url.searchParams.set('authSource', '$external');
  return url.toString();
}

const connection = (uri: string, v: number, extra = '') => `import mongoose from 'mongoose';
import { MongoClient } from 'mongodb';
${extra}
export const version = ${v};
await mongoose.connect(${JSON.stringify(uri)});
export const side = mongoose.createConnection(${JSON.stringify(uri)});
export const client = new MongoClient(${JSON.stringify(uri)});
await client.connect();
`;

const model = (v: number) => `import mongoose, { Schema } from 'mongoose';
export const version = ${v};
export const Secret = mongoose.model('SecretUser', new Schema({ name: String, v${v}: String }));
(globalThis.__ormHmrSecretCache ??= []).push(Secret);
`;

describe('secrets', () => {
  let project: Project;
  let dev: Dev;
  let http: Server;
  const records: ReloadRecord[] = [];

  beforeAll(async () => {
    project = new Project('secrets', { 'db.ts': connection(secretUri('secrets_a'), 1), 'models/secret.ts': model(1) });
    dev = await startVite(project, { mode: 'runner', options: { report: 'orm-hmr.jsonl', trace: true } });
    onReport((record) => records.push(record));
    http = createServer(dev.server.middlewares);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    delete (globalThis as { __ormHmrSecretCache?: unknown }).__ormHmrSecretCache;
    const db = await dev.load('db.ts').catch(() => undefined);
    await db?.client.close();
    await db?.side.close();
    (await import('mongoose')).default.disconnect();
    await new Promise((resolve) => http.close(resolve));
    await dev.close();
    project.remove();
  });

  async function save(file: string, content: string, version: number) {
    await dev.edit(file, content);
    await until(async () => (await dev.load(file)).version === version, 15_000, `${file} version ${version}`);
    await settled();
  }

  it('never shows a connection string password in our lines, the report or the page', async () => {
    expect((await dev.load('db.ts')).version).toBe(1);
    await dev.load('models/secret.ts');
    // Connections closed and reopened, then the string edited (mongoose.connect reconnects).
    await save('db.ts', connection(secretUri('secrets_a'), 2), 2);
    await save('db.ts', connection(secretUri('secrets_b'), 3), 3);
    // A broken save whose error quotes the string.
    await dev.edit('db.ts', connection(secretUri('secrets_b'), 4, `throw new Error('cannot reach ' + ${JSON.stringify(secretUri('secrets_b'))});`));
    await until(async () => {
      try {
        await dev.load('db.ts');
        return false;
      } catch (error) {
        return String(error).includes('cannot reach');
      }
    }, 15_000, 'the broken save');
    await settled();
    await save('db.ts', connection(secretUri('secrets_b'), 5), 5);
    // A model kept by a cache: a leak warning and its trace.
    for (let v = 2; v <= 4; v++) await save('models/secret.ts', model(v), v);
    await until(() => records.some((r) => r.retainerPath), 60_000, 'the trace');

    // What we printed, wrote and served did happen (so there was something to leak)...
    const ours = dev.logs.filter((line) => line.includes('[orm-hmr]'));
    expect(ours.some((line) => line.includes('threw while evaluating'))).toBe(true);
    expect(ours.some((line) => line.includes('connection string of the default connection changed'))).toBe(true);
    expect(ours.some((line) => line.includes('leaks on reload'))).toBe(true);
    expect(ours.some((line) => line.includes('trace: SecretUser is held by'))).toBe(true);
    expect(records.flatMap((r) => r.released).map((r) => `${r.action} ${r.adapter}:${r.name}`)).toEqual(
      expect.arrayContaining(['closed mongodb:MongoClient', 'closed mongoose:connection']),
    );
    const report = project.read('orm-hmr.jsonl');
    const port = (http.address() as AddressInfo).port;
    const served = await (await fetch(`http://127.0.0.1:${port}/__orm-hmr/records.json`)).text();
    const page = await (await fetch(`http://127.0.0.1:${port}/__orm-hmr`)).text();
    expect(JSON.parse(served).length).toBeGreaterThanOrEqual(records.length);

    // ...and none of it holds the password, or the string with its credentials.
    for (const [what, text] of [['log lines', ours.join('\n')], ['report', report], ['records.json', served], ['page', page]] as const) {
      expect(text, what).not.toContain(PASSWORD);
      expect(text, what).not.toContain(encodeURIComponent(PASSWORD));
      expect(text, what).not.toMatch(/mongodb:\/\/[^\s"]*@/);
    }
  });
});
