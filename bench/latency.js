// Update latency, one JSON line: from writing a model file to the first HTTP response of the
// playground that reflects the edit. The same app (a copy of playground/) served four ways:
// orm-hmr under Vite (ssrLoadModule per request), orm-hmr under webpack's server HMR (NestJS
// style), the plain Node server under `orm-hmr dev` (reloaded in place, its server kept), and the
// same server under `tsx watch`, restarting the process (and reconnecting to the database) on each save.
//   node bench/latency.js [edits]
// BENCH_LATENCY=node,tsx runs only those (vite, webpack, node, tsx); BENCH_VERBOSE=1 shows the
// children's output.
import { spawn } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'vite';
import { startDatabase } from '../db/ferretdb.js';
import { ormHmr } from '../dist/vite/index.js';
import { benchProject } from './dev-server.js';

const edits = Number(process.argv[2] ?? 10);
const only = process.env.BENCH_LATENCY?.split(',');
const runs = (name) => !only || only.includes(name);
const repo = join(import.meta.dirname, '..');
const dir = benchProject('latency');
const app = join(dir, 'playground');
cpSync(join(repo, 'playground'), app, { recursive: true, filter: (src) => !src.includes('.data') });
const database = await startDatabase({ dir: join(dir, '.data'), database: 'latency' });
process.env.MONGODB_URI = database.uri;

const userModel = (v) => `import mongoose, { Schema } from 'mongoose';
export const User = mongoose.model('User', new Schema({ name: { type: String, required: true }, email: String, f${v}: String }, { timestamps: true }));
`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes version `v` of the model and polls GET /api/users until its fields show `f<v>`. */
async function editAndWait(port, v) {
  const start = performance.now();
  writeFileSync(join(app, 'models', 'user.ts'), userModel(v));
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/api/users`);
      const body = await response.json();
      if (body.fields?.includes(`f${v}`)) return performance.now() - start;
    } catch {
      // Restarting (tsx) or rebuilding: not up yet.
    }
    if (performance.now() - start > 30_000) throw new Error(`f${v} never showed on port ${port}`);
    await sleep(5);
  }
}

async function waitUp(port) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/users`)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`nothing answers on port ${port}`);
}

async function series(name, port) {
  await waitUp(port);
  const times = [];
  for (let v = 1; v <= edits; v++) {
    times.push(await editAndWait(port, `${name.replace(/\W/g, '')}${v}`));
    // Like a person: the next save comes after the last one has been looked at.
    await sleep(400);
  }
  process.stderr.write(`latency ${name}: ${times.map((t) => t.toFixed(0)).join(' ')} ms\n`);
  return times;
}

/** Runs `command` in the copy until `series` is done; its output is kept for errors. */
async function inChild(name, port, command, args, env = {}) {
  const child = spawn(command, args, { cwd: dir, env: { ...process.env, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  if (process.env.BENCH_VERBOSE) child.stdout.pipe(process.stderr);
  try {
    return await series(name, port);
  } catch (error) {
    throw new Error(`${name}: ${error.message}\n${output.slice(-2000)}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const results = {};

// 1. Vite: the playground's own setup (ssrLoadModule on each request).
if (runs('vite')) {
  const server = await createServer({
    root: app,
    configFile: false,
    logLevel: 'silent',
    appType: 'custom',
    server: { port: 5291, strictPort: true, host: '127.0.0.1' },
    plugins: [
      ormHmr({ memoryLine: false }),
      {
        name: 'serve-app',
        configureServer(vite) {
          vite.middlewares.use(async (req, res, next) => {
            if (!req.url?.startsWith('/api')) return next();
            try {
              await (await vite.ssrLoadModule('/app.ts')).handle(req, res);
            } catch (error) {
              res.statusCode = 500;
              res.end(String(error));
            }
          });
        },
      },
    ],
  });
  await server.listen();
  results.vite = await series('orm-hmr + Vite', 5291);
  await server.close();
}

// 2. webpack server HMR, the app in a child process (npm run dev:webpack); polling every 100 ms as
// NestJS's recipe does.
if (runs('webpack')) results.webpack = await inChild('orm-hmr + webpack', 5292, process.execPath, [join(repo, 'playground', 'webpack-dev.js')], {
  PLAYGROUND_DIR: app,
  HOT_POLL_MS: '100',
});

// 3. The plain Node server (playground/server.ts) under `orm-hmr dev`: reloaded in place.
if (runs('node')) results.node = await inChild('orm-hmr dev', 5294, process.execPath, [join(repo, 'dist', 'node', 'cli.js'), 'dev', '--page=off', join('playground', 'server.ts')]);

// 4. The same server restarted on each save.
if (runs('tsx')) results.tsx = await inChild('tsx watch', 5293, process.execPath, [join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'watch', join(app, 'server.ts')]);

await database.stop();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ edits, ...results }));
// The app ran in this process under Vite, and its timers (the playground's stats refresh) would
// keep it alive.
process.exit(0);
