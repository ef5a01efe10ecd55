import { spawn, type ChildProcess } from 'node:child_process';
import { ansi, until } from './project.ts';
import { freePort } from './webpack.ts';

export interface DevProcess {
  port: number;
  /** Everything the dev server printed, colours removed. */
  output(): string;
  /** GET `path` as JSON; throws (with the body) on a non-2xx answer. */
  get(path: string): Promise<any>;
  stop(): Promise<void>;
}

/**
 * The environment a person's terminal has: without what vitest adds (NODE_ENV=test, VITEST=true…).
 * Astro, for one, leaves its dev server's routes to vitest when it sees VITEST.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^VITEST/.test(key) || key === 'TEST' || key === 'NODE_ENV') delete env[key];
  return env;
}

/**
 * A framework's own dev server CLI (`react-router dev`, `astro dev`) in a child process of the
 * Node running the suite, on a free port, answering `ready` (polled until it does).
 */
export async function startDevProcess(
  bin: string,
  args: (port: number) => string[],
  { cwd, env, ready, timeout = 90_000 }: { cwd: string; env: NodeJS.ProcessEnv; ready: string; timeout?: number },
): Promise<DevProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [bin, ...args(port)], {
    cwd,
    env: { ...userEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stop() ends whatever it started too.
    detached: true,
  });
  const chunks: string[] = [];
  child.stdout!.on('data', (chunk) => chunks.push(String(chunk).replace(ansi, '')));
  child.stderr!.on('data', (chunk) => chunks.push(String(chunk).replace(ansi, '')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output = () => chunks.join('');
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 800)}`);
    return JSON.parse(text);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid!, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const died = exited.then(() => {
    throw new Error(`${bin} exited (${child.exitCode ?? child.signalCode}) before answering ${ready}:\n${output()}`);
  });
  try {
    await Promise.race([until(() => get(ready), timeout, `${bin} to answer ${ready}`).catch((error) => {
      throw new Error(`${error.message}\n${output()}`);
    }), died]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, output, get, stop };
}
