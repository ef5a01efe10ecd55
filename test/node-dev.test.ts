// `orm-hmr dev`: real Express 5 and Fastify 5 apps on the real database, run by the command as a
// user's `npm run dev` would, edited as a person edits them.
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { userModel } from './helpers/fixtures.ts';
import { freePort, get, pollingLoad, refused, reportRecords, startNodeDev } from './helpers/node-dev.ts';
import { Project, saveUntil, until } from './helpers/project.ts';

const EDITS = 30;
const runtime = JSON.stringify(join(import.meta.dirname, '..', 'dist', 'runtime', 'index.js'));
/** Each framework's app file records its onUnload callbacks: they run before it evaluates again and on shutdown. */
const unloadLog = `import { appendFileSync } from 'node:fs';
import { onUnload } from ${runtime};
onUnload(() => appendFileSync(process.env.UNLOAD_LOG!, process.pid + '\\n'));
`;

const db = `import mongoose from 'mongoose';

export function connect(): Promise<unknown> {
  if (mongoose.connection.readyState === 0) return mongoose.connect(process.env.MONGODB_URI!, { dbName: process.env.DB_NAME });
  return mongoose.connection.asPromise();
}
`;

/** Routes as each framework writes them; `extra` is a route added by an edit. */
const apps = {
  express: {
    app: (hello: string, extra = '') => `import express from 'express';
import mongoose from 'mongoose';
import { User } from './models/user.ts';
${unloadLog}
export const app = express();
app.get('/fields', (_req, res) => {
  res.json(Object.keys(User.schema.paths).filter((path) => !path.startsWith('_')));
});
app.get('/users', async (_req, res) => {
  await User.create({ name: 'ada' });
  res.json({ count: await User.countDocuments(), state: mongoose.connection.readyState });
});
app.get('/pid', (_req, res) => {
  res.send(String(process.pid));
});
app.get('/greeting', (_req, res) => {
  res.send(process.env.GREETING ?? '');
});
app.get('/hello', (_req, res) => {
  res.send(${JSON.stringify(hello)});
});
${extra}`,
    extra: `app.get('/new', (_req, res) => {\n  res.send('new route');\n});\n`,
    server: `import { app } from './app.ts';
import { connect } from './db.ts';

await connect();
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`,
  },
  fastify: {
    app: (hello: string, extra = '') => `import Fastify from 'fastify';
import mongoose from 'mongoose';
import { User } from './models/user.ts';
${unloadLog}
export const app = Fastify();
app.get('/fields', async () => Object.keys(User.schema.paths).filter((path) => !path.startsWith('_')));
app.get('/users', async () => {
  await User.create({ name: 'ada' });
  return { count: await User.countDocuments(), state: mongoose.connection.readyState };
});
app.get('/pid', async () => String(process.pid));
app.get('/greeting', async () => process.env.GREETING ?? '');
app.get('/hello', async () => ${JSON.stringify(hello)});
${extra}`,
    extra: `app.get('/new', async () => 'new route');\n`,
    server: `import { app } from './app.ts';
import { connect } from './db.ts';

await connect();
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('listening');
`,
  },
};

const projects: Project[] = [];
afterAll(() => projects.forEach((project) => project.remove()));

describe.each(['express', 'fastify'] as const)('orm-hmr dev with %s', (framework) => {
  it(`applies ${EDITS} model edits, route edits and a new route live, keeps serving through a broken save, restarts on .env, exits on SIGTERM`, async () => {
    const source = apps[framework];
    const project = new Project(`node-dev-${framework}`, {
      'package.json': JSON.stringify({ name: `node-dev-${framework}`, type: 'module', private: true }),
      '.env': 'GREETING=hello\n',
      'db.ts': db,
      'models/user.ts': userModel('', 0),
      'app.ts': source.app('hello v1'),
      'server.ts': source.server,
    });
    projects.push(project);
    const port = await freePort();
    const report = project.path('report.jsonl');
    const dev = startNodeDev(project, ['--env-file=.env', 'server.ts'], {
      PORT: String(port),
      MONGODB_URI: inject('mongoUri'),
      DB_NAME: `node_dev_${framework}_${process.pid}`,
      ORM_HMR_REPORT: report,
      UNLOAD_LOG: project.path('unload.log'),
    });
    try {
      await until(async () => (await get(port, '/fields')).status === 200, 30_000, 'the app to answer');
      const pid = (await get(port, '/pid')).body;
      expect(JSON.parse((await get(port, '/users')).body)).toMatchObject({ count: 1, state: 1 });

      // Model edits under a polling load: every one live, nothing refused, no restart.
      const load = pollingLoad(port, '/users');
      for (let v = 1; v <= EDITS; v++) {
        await saveUntil(project, 'models/user.ts', userModel('', v), async () => JSON.parse((await get(port, '/fields')).body).includes(`f${v}`));
      }
      const counts = await load.stop();
      expect(counts.failed).toEqual([]);
      expect(counts.ok).toBeGreaterThan(EDITS);
      expect((await get(port, '/pid')).body).toBe(pid);
      expect(dev.output()).not.toMatch(/restarting|OverwriteModelError/);

      // With nothing in flight: one generation of the model and of the app module alive after GC.
      const before = reportRecords(report).length;
      await saveUntil(project, 'models/user.ts', userModel('', 'last'), async () => JSON.parse((await get(port, '/fields')).body).includes('flast'));
      // (A reload of the loaded loop above may still land first, without counts after GC: a newer one came while the server was busy.)
      const record = await until(() => reportRecords(report).slice(before).find((r) => r.files.includes('models/user.ts') && r.gc), 10_000, 'the reload report');
      expect(record.alive).toEqual({ User: 1 });
      expect(record.generations).toMatchObject({ 'app.ts': 1, 'models/user.ts': 1 });
      expect(dev.output()).toMatch(/reload #\d+ [^\n]*models\/user\.ts[^\n]*alive User 1/);
      // The ledger page, on a port of its own, has the same records.
      const page = /ledger (http:\/\/127\.0\.0\.1:\d+\/__orm-hmr)/.exec(dev.output())![1]!;
      const records = (await (await fetch(`${page}/records.json`)).json()) as { files: string[] }[];
      expect(records.some((r) => r.files.includes('models/user.ts'))).toBe(true);

      // A save that throws: the previous app keeps serving, the error is printed once with its
      // source-mapped place; the next good save applies.
      const broken = userModel('', 'broken').replace('export const User', "throw new Error('broken save');\nexport const User");
      await saveUntil(project, 'models/user.ts', broken, () => dev.output().includes('broken save'));
      expect((await get(port, '/fields')).body).toContain('flast');
      expect(JSON.parse((await get(port, '/users')).body).state).toBe(1);
      const line = broken.split('\n').findIndex((l) => l.includes('broken save')) + 1;
      expect(dev.output()).toContain(`models/user.ts:${line}:`);
      expect(dev.output().split('Error: broken save').length - 1).toBe(1);
      await saveUntil(project, 'models/user.ts', userModel('', 'fixed'), async () => JSON.parse((await get(port, '/fields')).body).includes('ffixed'));

      // A route edit and a new route in the app file.
      await saveUntil(project, 'app.ts', source.app('hello v2'), async () => (await get(port, '/hello')).body === 'hello v2');
      expect((await get(port, '/new')).status).toBe(404);
      await saveUntil(project, 'app.ts', source.app('hello v2', source.extra), async () => (await get(port, '/new')).body === 'new route');
      expect((await get(port, '/pid')).body).toBe(pid);

      // .env is read by Node at start: a change restarts the process, saying why.
      expect((await get(port, '/greeting')).body).toBe('hello');
      project.write('.env', 'GREETING=bye\n');
      await until(async () => (await get(port, '/greeting')).body === 'bye', 20_000, 'the restarted app');
      expect(dev.output()).toContain('restarting: .env changed');
      expect((await get(port, '/pid')).body).not.toBe(pid);

      // SIGTERM: exits within 2 s, code 0, onUnload callbacks run, the port closed, the app's process gone.
      const appPid = Number((await get(port, '/pid')).body);
      const unloads = () => project.read('unload.log').split('\n').filter((line) => line === String(appPid)).length;
      expect(unloads()).toBe(0);
      const start = Date.now();
      dev.child.kill('SIGTERM');
      expect(await dev.exited).toBe(0);
      expect(Date.now() - start).toBeLessThan(2_000);
      expect(unloads()).toBe(1);
      expect(await refused(port)).toBe(true);
      expect(() => process.kill(appPid, 0)).toThrow();
    } finally {
      await dev.stop();
    }
  });
});

