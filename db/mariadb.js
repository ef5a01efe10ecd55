// @ts-check
/**
 * A throwaway MariaDB for tests and the bench: Debian's `mariadb-server` package (`mariadbd` and
 * `mariadb-install-db`), a fresh data directory, a free loopback port, its Unix socket in that
 * directory. MariaDB runs as root only when told to, so as root its binaries run as the `mysql` user
 * (the child's uid and gid, not runuser, which would SIGKILL the server 2 s into its shutdown).
 * mariadb-install-db takes 1 to 2 s (most of the start): its data directory is kept once per
 * MariaDB build and settings under ~/.cache/orm-hmr and copied for each run (0.1 s).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'orm-hmr');
// Small InnoDB files and no flushing to disk: the data lives for one run.
const SETTINGS = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M', '--innodb-temp-data-file-path=ibtmp1:1M:autoextend', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', '--skip-name-resolve'];

/** `mariadbd` and `mariadb-install-db` (ORM_HMR_MARIADB_BIN, a folder holding both, wins), or undefined. */
export function findMariadb() {
  const dir = process.env.ORM_HMR_MARIADB_BIN;
  const server = dir ? join(dir, 'mariadbd') : '/usr/sbin/mariadbd';
  const installDb = dir ? join(dir, 'mariadb-install-db') : '/usr/bin/mariadb-install-db';
  return existsSync(server) && existsSync(installDb) ? { server, installDb } : undefined;
}

export const MISSING =
  "MariaDB is not installed: the mysql2 tests need Debian's `mariadb-server` package (apt-get install -y mariadb-server), or ORM_HMR_MARIADB_BIN set to a folder holding mariadbd and mariadb-install-db.";

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
 * Starts MariaDB with its data in a new folder under `base`, and a database `database` that the
 * passwordless `root@127.0.0.1` (created by mariadb-install-db) reaches over TCP.
 * @param {{ base: string, database: string, maxConnections?: number }} options
 * @returns {Promise<{ url: string, port: number, stop(): Promise<void> }>}
 */
export async function startMariadb({ base, database, maxConnections = 200 }) {
  const bin = findMariadb();
  if (!bin) throw new Error(MISSING);
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(base, 'mariadb-'));
  const data = join(dir, 'data');
  const log = join(dir, 'error.log');
  // Run by the server before it accepts connections.
  writeFileSync(join(dir, 'create.sql'), `CREATE DATABASE \`${database}\`;\n`);
  const ids = root ? mysqlIds() : undefined;
  if (ids) chownSync(dir, ...ids);
  const as = ids ? { uid: ids[0], gid: ids[1] } : {};
  const template = join(cacheDir, `mariadb-${templateKey(bin.server)}`);
  if (existsSync(join(template, 'mysql'))) {
    cpSync(template, data, { recursive: true });
    if (ids) execFileSync('chown', ['-R', `${ids[0]}:${ids[1]}`, data]);
  } else {
    const installed = spawnSync(bin.installDb, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...SETTINGS], { encoding: 'utf8', cwd: dir, ...as });
    if (installed.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mariadb-install-db failed: ${(installed.stderr || installed.stdout || String(installed.error)).trim()}`);
    }
    keep(data, template);
  }
  const port = await freePort();
  const child = spawn(bin.server, [
    '--no-defaults',
    `--datadir=${data}`,
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    `--log-error=${log}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--max-connections=${maxConnections}`,
    `--init-file=${join(dir, 'create.sql')}`,
    ...SETTINGS,
  ], { cwd: dir, stdio: 'ignore', ...as });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    // SIGTERM is MariaDB's normal shutdown.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready once the log says so; the socket file and the TCP port appear before the server accepts.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    if (text.includes('ready for connections')) break;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`MariaDB did not start (exit ${child.exitCode ?? child.signalCode}): ${text.trim().split('\n').slice(-5).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { url: `mysql://root@127.0.0.1:${port}/${database}`, port, stop };
}

/** One template per `mariadbd` build (its size and time) and settings. */
function templateKey(/** @type {string} */ server) {
  const { size, mtimeMs } = statSync(server);
  return createHash('sha256').update(JSON.stringify([size, mtimeMs, SETTINGS])).digest('hex').slice(0, 12);
}

/** Copies a fresh data directory to `template`, whole or not at all (two runs may race). */
function keep(/** @type {string} */ data, /** @type {string} */ template) {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const partial = mkdtempSync(`${template}.partial-`);
    cpSync(data, partial, { recursive: true });
    try {
      renameSync(partial, template);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // the other run's copy won
    }
  } catch {
    // No cache (a read-only home): every run installs.
  }
}

/** @returns {[number, number]} */
function mysqlIds() {
  const ids = (/** @type {string} */ flag) => Number(execFileSync('id', [flag, 'mysql'], { encoding: 'utf8' }).trim());
  return [ids('-u'), ids('-g')];
}
