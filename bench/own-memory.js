// orm-hmr's own memory, one JSON line:
//   node --expose-gc bench/own-memory.js reload [reloads]
//     heap after GC kept per reload: two model files re-evaluated `reloads` times through the
//     runtime, with the report, the memory line and the ledger page's history, as in a dev server,
//     and nothing else running: all the process keeps, so an upper bound of what orm-hmr keeps.
//   node bench/own-memory.js next <webpack|turbopack> <with|without>
//     heap after GC of a `next dev` server (the process that serves the routes) once a model route
//     and a page have loaded, with `withOrmHmr` in next.config.mjs or without: the constant cost.
//     The result flips between states with the timing of webpack's first cache store: run each
//     variant several times, alternating, and compare medians. BENCH_DEBUG=1 prints each reading
//     with its time (with NEXT_WEBPACK_LOGGING=infrastructure, next to webpack's cache log).
//   node bench/own-memory.js
//     all of the above, in fresh processes.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setImmediate as settle } from 'node:timers/promises';
import { benchProject } from './dev-server.js';

const here = import.meta.dirname;
const [what, arg, arg2] = process.argv.slice(2);

async function heapAfterGc() {
  for (let i = 0; i < 3; i++) {
    await settle();
    globalThis.gc();
  }
  await settle();
  return process.memoryUsage().heapUsed;
}

/** Re-evaluates two model files `reloads` times, as a dev server would; heap after GC before and after. */
async function reloads(count) {
  const { default: mongoose } = await import('mongoose');
  const runtime = await import('../dist/runtime/index.js');
  const { PageHistory } = await import('../dist/vite/page-history.js');
  const root = benchProject('own-memory');
  // What a dev server has: the report file, the memory line (to a logger that drops it) and the page's history.
  runtime.configure({ root, report: 'orm-hmr.jsonl', settleMs: 60_000, logger: { info() {}, warn() {}, error() {} } });
  const history = new PageHistory();
  runtime.onReport((record) => history.add(record));
  const evaluate = (file, name, version) => {
    const handle = runtime.enter(join(root, file), { imports: { mongoose } });
    const schema = new mongoose.Schema({ name: String, email: String, [`f${version}`]: String }, { timestamps: true });
    const model = mongoose.model(name, schema);
    handle.commit(() => model);
  };
  const reload = async (version) => {
    evaluate('models/user.ts', 'OwnUser', version);
    evaluate('models/post.ts', 'OwnPost', version);
    await runtime.settled();
  };
  for (let v = 1; v <= 10; v++) await reload(v); // warm-up: V8's code, mongoose's caches, our first records
  const before = await heapAfterGc();
  for (let v = 11; v < 11 + count; v++) await reload(v);
  const after = await heapAfterGc();
  rmSync(root, { recursive: true, force: true });
  return { reloads: count, before, after, perReload: (after - before) / count };
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

/** A `next dev` server on a small Pages Router app with a model, with or without withOrmHmr; its heap after GC. */
async function nextHeap(bundler, variant) {
  const root = benchProject(`own-memory-next-${bundler}-${variant}`);
  const write = (file, content) => {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), content);
  };
  write('package.json', JSON.stringify({ name: 'own-memory', private: true }));
  // Installed as a user has it, in node_modules (Next treats packages there differently from app code).
  cpSync(join(here, '../dist'), join(root, 'node_modules/orm-hmr/dist'), { recursive: true });
  cpSync(join(here, '../package.json'), join(root, 'node_modules/orm-hmr/package.json'));
  const config = {
    with: `import { withOrmHmr } from 'orm-hmr/next';\nexport default withOrmHmr({});\n`,
    without: 'export default {};\n',
    // Diagnosis: everything of ours but no module wrapped (the runtime never engaged).
    'no-wrap': `import { withOrmHmr } from 'orm-hmr/next';\nexport default withOrmHmr({}, { include: /^$/ });\n`,
    // Diagnosis: a webpack function of the user's own and no orm-hmr (Next then makes the config a build dependency).
    'plain-webpack': 'export default { webpack: (config) => config };\n',
    // Diagnosis: the config-time part alone (no loader, no webpack plugin).
    'config-only': `import { withOrmHmr } from 'orm-hmr/next';\nconst { webpack, turbopack, ...config } = withOrmHmr({});\nexport default config;\n`,
  }[variant];
  write('next.config.mjs', config);
  write('models/Pet.ts', `import mongoose from 'mongoose';\nexport default mongoose.models.Pet || mongoose.model('Pet', new mongoose.Schema({ name: String }));\n`);
  write('pages/api/pets.js', `import Pet from '../../models/Pet';\nexport default function handler(req, res) { res.json(Object.keys(Pet.schema.paths)); }\n`);
  write('pages/index.js', `import Pet from '../models/Pet';\nexport default function Index({ fields }) { return <p>{fields.join(',')}</p>; }\nexport function getServerSideProps() { return { props: { fields: Object.keys(Pet.schema.paths) } }; }\n`);
  // The same measurement in both variants: full GCs in the serving process, then its heap.
  write(
    'pages/api/heap.js',
    `import { setFlagsFromString } from 'node:v8';\nimport { runInNewContext } from 'node:vm';\nsetFlagsFromString('--expose-gc');\nconst gc = runInNewContext('gc');\nexport default async function handler(req, res) {\n  for (let i = 0; i < 4; i++) { gc(); await new Promise((r) => setImmediate(r)); }\n  res.json(process.memoryUsage());\n}\n`,
  );
  const port = await freePort();
  const nextBin = join(here, '../node_modules/next/dist/bin/next');
  const child = spawn(process.execPath, [nextBin, 'dev', ...(bundler === 'webpack' ? ['--webpack'] : []), '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: root,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'development', ORM_HMR_MEMORY_LINE: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const get = async (path) => {
    for (let i = 0; ; i++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}${path}`);
        if (response.ok) return path === '/' ? response.text() : response.json();
      } catch {}
      if (i > 600) throw new Error(`next dev did not answer ${path}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  try {
    await get('/api/pets');
    await get('/');
    await get('/api/heap');
    // Let compilation caches and timers settle, then take the lowest of several readings.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const heaps = [];
    for (let i = 0; i < 5; i++) {
      heaps.push((await get('/api/heap')).heapUsed);
      if (process.env.BENCH_DEBUG) console.error(new Date().toISOString(), 'heap', heaps.at(-1));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return { bundler, variant, heapUsed: Math.min(...heaps) };
  } finally {
    process.kill(-child.pid, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!process.env.BENCH_KEEP) rmSync(root, { recursive: true, force: true });
  }
}

function run(args, flags = []) {
  const out = execFileSync(process.execPath, [...flags, join(here, 'own-memory.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1));
}

if (what === 'reload') {
  console.log(JSON.stringify(await reloads(Number(arg ?? 100))));
  process.exit(0);
} else if (what === 'next') {
  console.log(JSON.stringify(await nextHeap(arg, arg2)));
} else {
  const count = Number(process.env.BENCH_RELOADS ?? 100);
  const ours = run(['reload', String(count)], ['--expose-gc']);
  const next = {};
  for (const bundler of ['webpack', 'turbopack']) {
    const [withIt, without] = ['with', 'without'].map((variant) => run(['next', bundler, variant]));
    next[bundler] = { with: withIt.heapUsed, without: without.heapUsed, cost: withIt.heapUsed - without.heapUsed };
  }
  console.log(JSON.stringify({ reloads: count, perReload: ours.perReload, next }));
}
