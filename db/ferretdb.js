// @ts-check
/**
 * The embedded MongoDB for tests and the playground: FerretDB v1.24.2 (MongoDB wire protocol,
 * SQLite storage), built from the Go module proxy by our own small main in db/ferretdb/ and
 * cached under ~/.cache/orm-hmr (or $XDG_CACHE_HOME/orm-hmr). `MONGODB_URI` always wins: then nothing is built or started.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FERRETDB_VERSION = 'v1.24.2';
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(repo, 'db', 'ferretdb');
// Outside node_modules, so `npm ci` does not throw the build away.
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'orm-hmr');
export const binaryPath = process.env.ORM_HMR_FERRETDB_BIN || join(cacheDir, `ferretdb-${FERRETDB_VERSION}`, 'orm-hmr-ferretdb');

/** @param {string} message */
const say = (message) => process.stderr.write(`[orm-hmr db] ${message}\n`);

function goCommand() {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    if (spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new DatabaseUnavailable(
    [
      `[orm-hmr db] No Go found to build the embedded database.`,
      `The embedded MongoDB is FerretDB ${FERRETDB_VERSION}, built from source with Go the first time it is needed`,
      `(a few minutes, then cached in ${dirname(binaryPath)}). Either:`,
      `  - install Go 1.24 or newer (https://go.dev/doc/install) and put its bin folder on PATH, then run this again; or`,
      `  - set MONGODB_URI to a MongoDB you run, e.g. MONGODB_URI=mongodb://127.0.0.1:27017/orm_hmr (nothing is built then).`,
    ].join('\n'),
  );
}

/** The database cannot be had, for a reason its message tells in full: callers print the message, not a stack. */
export class DatabaseUnavailable extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    // What Vite, vitest and Node print of an error they did not expect is its stack: make it the message.
    this.stack = message;
  }
}
DatabaseUnavailable.prototype.name = 'DatabaseUnavailable';

/**
 * Builds the FerretDB binary once; later calls return the cached one. Asynchronous, so the
 * "still building" line comes every 30 s while Go works (a synchronous spawn would block it).
 * @returns {Promise<string>}
 */
export async function buildFerretDB() {
  if (existsSync(binaryPath)) return binaryPath;
  const go = goCommand();
  say(`building FerretDB ${FERRETDB_VERSION} with Go (first run only; this takes a few minutes)...`);
  const started = Date.now();
  const ticker = setInterval(() => say(`still building FerretDB (${Math.round((Date.now() - started) / 1000)} s)...`), 30_000);
  mkdirSync(dirname(binaryPath), { recursive: true });
  const partial = `${binaryPath}.${process.pid}.partial`;
  try {
    const child = spawn(go, ['build', '-trimpath', '-o', partial, '.'], {
      cwd: source,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    });
    const [code, signal] = await new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (...result) => resolve(result));
    });
    if (code !== 0) throw new Error(`go build failed (exit ${code ?? signal})`);
    renameSync(partial, binaryPath);
  } finally {
    clearInterval(ticker);
    rmSync(partial, { force: true });
  }
  say(`FerretDB built in ${Math.round((Date.now() - started) / 1000)} s: ${binaryPath}`);
  return binaryPath;
}

/**
 * @typedef {{ uri: string, stop: () => Promise<void>, embedded: boolean }} Database
 */

/**
 * Starts FerretDB on a free loopback port with its SQLite files in `dir`, or returns MONGODB_URI.
 * @param {{ dir: string, database?: string }} options
 * @returns {Promise<Database>}
 */
export async function startDatabase({ dir, database = 'orm_hmr' }) {
  if (process.env.MONGODB_URI) {
    return { uri: process.env.MONGODB_URI, stop: async () => {}, embedded: false };
  }
  const binary = await buildFerretDB();
  mkdirSync(dir, { recursive: true });
  const child = spawn(binary, ['-listen', '127.0.0.1:0', '-dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`FerretDB did not start within 30 s\n${stderr}`)), 30_000);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /^ready (\S+)/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB exited with ${code} before it was ready\n${stderr}`));
    });
  });
  const uri = `${String(base).replace(/\/$/, '')}/${database}`;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    uri,
    embedded: true,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.stdin.end(); // our main exits when stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
