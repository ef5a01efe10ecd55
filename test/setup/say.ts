import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where first-run work is kept across `npm ci`s (the embedded database is built there too: db/ferretdb.js). */
export const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'orm-hmr');

/** One line on stderr, so vitest's reporter leaves it alone and a first run says what it is doing. */
export const say = (message: string) => process.stderr.write(`[orm-hmr test setup] ${message}\n`);

/** Runs a command, quiet unless it fails (then its output is shown); a line every 30 s while it runs. */
export function run(command: string[], args: string[], { what, cwd, env }: { what: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  const [file, ...pre] = command;
  const started = Date.now();
  const ticker = setInterval(() => say(`still running ${what} (${Math.round((Date.now() - started) / 1000)} s)...`), 30_000);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, [...pre, ...args], { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearInterval(ticker);
      if (code === 0) return resolve();
      // npm says what went wrong first, then prints its usage: keep both ends.
      const shown = output.length > 5000 ? `${output.slice(0, 2000)}\n…\n${output.slice(-3000)}` : output;
      reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${shown}`));
    });
  });
}

/** Whether the running Node satisfies an `engines.node` range made of `>=a.b.c` and `^a.b.c` parts joined by `||`. */
export function satisfiesNode(range: string, version = process.versions.node): boolean {
  const have = version.split('.').map(Number);
  const atLeast = (want: number[]) => {
    for (let i = 0; i < 3; i++) if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
    return true;
  };
  return range.split('||').some((part) => {
    const match = /^\s*(>=|\^)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(part);
    if (!match) throw new Error(`engines.node "${range}": only ">=a.b.c" and "^a.b.c" parts joined by "||" are understood here`);
    const want = [Number(match[2]), Number(match[3] ?? 0), Number(match[4] ?? 0)];
    return atLeast(want) && (match[1] === '>=' || have[0] === want[0]);
  });
}
