#!/usr/bin/env node
/**
 * `orm-hmr dev <entry>`: supervises the app's process (dev-process.ts). Saves of modules reload
 * in that process; this one only restarts it, for what a reload cannot take: `.env` files given
 * to Node, package.json, tsconfig.json, `rs` + enter, and a start after the app crashed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { parseDevArgs, USAGE } from './args.ts';
import type { ToSupervisor } from './protocol.ts';

const tag = pc.cyan('[orm-hmr]');
const say = (message: string) => console.log(`${tag} ${message}`);

const [command, ...rest] = process.argv.slice(2);
if (command !== 'dev') {
  console.error(command === undefined || command === '-h' || command === '--help' ? USAGE : `orm-hmr: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  process.exit(command === undefined || command.startsWith('-') ? 0 : 1);
}
const parsed = parseDevArgs(rest);
if ('help' in parsed) {
  console.log(USAGE);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`orm-hmr dev: ${parsed.error}\n\n${USAGE}`);
  process.exit(1);
}

const { nodeFlags, options } = parsed;
const devProcess = fileURLToPath(new URL('./dev-process.js', import.meta.url));
const env = { ...process.env, ORM_HMR_DEV: JSON.stringify(options) };
let child: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
let exiting = false;
let crashWatcher: FSWatcher | undefined;

function start(): void {
  crashWatcher?.close();
  crashWatcher = undefined;
  const current = spawn(process.execPath, [...nodeFlags, devProcess], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  child = current;
  let fatal = false;
  current.on('message', (message: ToSupervisor) => {
    if (message.type === 'fatal') fatal = true;
    if (message.type === 'restart') void restart(message.reason);
  });
  current.on('exit', (code, signal) => {
    if (child !== current) return;
    child = undefined;
    if (exiting) return;
    if (fatal) process.exit(code ?? 1);
    if (stopping) return;
    say(pc.red(`the app exited (${signal ?? `code ${code}`}); waiting for a change to start it again (or rs + enter)`));
    waitForChange();
  });
}

/** Stops the app's process: it closes its servers and clients itself; killed if it takes over 2.5 s. */
function stop(): Promise<void> {
  const current = child;
  if (!current) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => current.kill('SIGKILL'), 2500);
    current.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    current.kill('SIGTERM');
  });
}

async function restart(reason: string): Promise<void> {
  if (stopping || exiting) return;
  say(`${pc.yellow('restarting')}: ${reason}`);
  stopping = stop();
  await stopping;
  stopping = undefined;
  if (!exiting) start();
}

/** After a crash nothing in the app's process watches files: any save under the project starts it again. */
function waitForChange(): void {
  crashWatcher = watch(process.cwd(), { recursive: true }, (_event, file) => {
    if (!file || /(^|[\\/])(node_modules|\.git)([\\/]|$)/.test(file)) return;
    void restart(`${file} changed`);
  });
}

process.stdin.setEncoding('utf8');
let line = '';
process.stdin.on('data', (chunk: string) => {
  line += chunk;
  for (let nl = line.indexOf('\n'); nl !== -1; nl = line.indexOf('\n')) {
    if (line.slice(0, nl).trim() === 'rs') void restart('rs');
    line = line.slice(nl + 1);
  }
});

// Ctrl+C reaches both processes; the app's shuts itself down, we wait for it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, async () => {
    if (exiting) return;
    exiting = true;
    crashWatcher?.close();
    await stop();
    process.exit(0);
  });
}

start();
