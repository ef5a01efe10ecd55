import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run, say, satisfiesNode } from './say.ts';

const testDir = join(import.meta.dirname, '..');

/** A nested app folder `test/*-app/` with its own lockfile: its own versions of an ORM or a framework. */
export interface NestedApp {
  dir: string;
  /** `engines.node` from its package.json, when it has one. */
  engines?: string;
}

export function nestedApps(): NestedApp[] {
  return readdirSync(testDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.endsWith('-app') && existsSync(join(testDir, entry.name, 'package-lock.json')))
    .map((entry) => {
      const dir = join(testDir, entry.name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      return { dir, engines: manifest.engines?.node };
    });
}

/**
 * Up to date when npm's own record of the tree (node_modules/.package-lock.json, written last by
 * `npm ci`) is newer than the lockfile. A fresh clone has no node_modules; a pulled lockfile is newer.
 */
function installed(dir: string): boolean {
  const record = join(dir, 'node_modules', '.package-lock.json');
  return existsSync(record) && statSync(record).mtimeMs >= statSync(join(dir, 'package-lock.json')).mtimeMs;
}

/**
 * `npm ci` in every nested app that needs it, one after the other (they share npm's cache).
 * An app whose `engines.node` the running Node does not satisfy is left alone: its tests are not
 * collected on this Node either (vitest.config.ts).
 */
export async function installNestedApps(): Promise<void> {
  for (const app of nestedApps()) {
    const name = relative(join(testDir, '..'), app.dir);
    if (app.engines && !satisfiesNode(app.engines)) continue;
    if (installed(app.dir)) continue;
    const started = Date.now();
    say(`installing ${name} (npm ci: its node_modules is missing or older than its lockfile)...`);
    await run(npmCommand(), ['ci', '--prefix', app.dir, '--no-audit', '--no-fund'], { what: `npm ci in ${name}` });
    say(`installed ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

/** The npm that runs this `npm test` (under the Node running it), else the one on PATH. */
export function npmCommand(): string[] {
  const cli = process.env.npm_execpath;
  return cli && /\.c?js$/.test(cli) ? [process.execPath, cli] : ['npm'];
}
