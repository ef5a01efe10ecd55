import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ansi, until, type Project } from './project.ts';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'node', 'cli.js');

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface NodeDev {
  child: ChildProcess;
  /** stdout and stderr so far, colours removed. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `orm-hmr dev <args>` in `project`, as a user's `npm run dev` runs it. */
export function startNodeDev(project: Project, args: string[], env: Record<string, string> = {}): NodeDev {
  const child = spawn(process.execPath, [cli, 'dev', ...args], {
    cwd: project.root,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  if (process.env.ORM_HMR_TEST_LOGS) {
    child.stdout!.pipe(process.stdout);
    child.stderr!.pipe(process.stderr);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text.replace(ansi, ''),
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** GET `path` on 127.0.0.1:`port` over a fresh connection; the body as text. */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return { status: response.status, body: await response.text() };
}

/**
 * Requests `path` back to back from `loops` clients, each on a fresh connection, until stopped:
 * how many answered, and every failure (a refused connection shows as ECONNREFUSED).
 */
export function pollingLoad(port: number, path: string, loops = 3) {
  let running = true;
  const counts = { ok: 0, failed: [] as string[] };
  const loop = async () => {
    while (running) {
      try {
        const { status } = await get(port, path);
        if (status === 200) counts.ok++;
        else counts.failed.push(`status ${status}`);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        counts.failed.push(cause?.code ?? String(error));
      }
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
  return {
    counts,
    async stop() {
      running = false;
      await done;
      return counts;
    },
  };
}

/** The JSONL report's records so far. */
export function reportRecords(file: string): Array<Record<string, any>> {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

/** Resolves once `port` refuses connections. */
export function refused(port: number): Promise<boolean> {
  return until(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      }),
    5_000,
    `port ${port} to close`,
  );
}
