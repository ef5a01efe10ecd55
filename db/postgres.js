// @ts-check
/**
 * A throwaway PostgreSQL for tests and the bench: Debian's `postgresql` package (its binaries in
 * /usr/lib/postgresql/<major>/bin), a fresh data directory, a free loopback port, no Unix socket.
 * PostgreSQL refuses to run as root, so as root its binaries run as the `postgres` user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const DEBIAN = '/usr/lib/postgresql';

/** The newest installed PostgreSQL's bin folder (ORM_HMR_PG_BIN wins), or undefined. */
export function findPostgres() {
  if (process.env.ORM_HMR_PG_BIN) return process.env.ORM_HMR_PG_BIN;
  let majors = [];
  try {
    majors = readdirSync(DEBIAN).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  } catch {
    return undefined;
  }
  return majors.map((major) => join(DEBIAN, major, 'bin')).find((bin) => existsSync(join(bin, 'pg_ctl')));
}

export const MISSING = "PostgreSQL is not installed: the SQL tests need Debian's `postgresql` package (apt-get install -y postgresql), or ORM_HMR_PG_BIN set to a folder holding initdb and pg_ctl.";

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL with its data in a new folder under `base`, and a database `database`.
 * @param {{ base: string, database: string, maxConnections?: number }} options
 * @returns {Promise<{ url: string, port: number, stop(): void }>}
 */
export async function startPostgres({ base, database, maxConnections = 200 }) {
  const bin = findPostgres();
  if (!bin) throw new Error(MISSING);
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(base, 'pg-'));
  const data = join(dir, 'data');
  if (root) chownSync(dir, ...postgresIds());
  /** @param {string} tool @param {string[]} args */
  const run = (tool, args) => {
    const command = root ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(/** @type {string} */ (command[0]), /** @type {string[]} */ (command[1]), { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`PostgreSQL ${tool} failed: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const settings = [`-p ${port}`, '-c listen_addresses=127.0.0.1', "-c unix_socket_directories=''", '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', `-c max_connections=${maxConnections}`];
  run('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'log'), '-o', settings.join(' ')]);
  const stop = () => {
    try {
      run('pg_ctl', ['stop', '-m', 'fast', '-w', '-D', data]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-q', '-c', `CREATE DATABASE ${database}`]);
  } catch (error) {
    stop();
    throw error;
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/${database}`, port, stop };
}

/** @returns {[number, number]} */
function postgresIds() {
  const ids = (/** @type {string} */ flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return [ids('-u'), ids('-g')];
}
