import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ansi, linkOrmHmr, Project, until } from './project.ts';
import { freePort } from './webpack.ts';

/** test/nitro-app: a Nitro 3 app on Vite with its own package.json (`npm ci --prefix test/nitro-app`). */
export const nitroApp = join(import.meta.dirname, '..', 'nitro-app');

export const userModel = (field: string) => `import mongoose, { Schema } from 'mongoose';
import './db.ts';

export const User = mongoose.model('User', new Schema({ name: { type: String, required: true }, email: String, ${field}: String }));
`;

export const eventModel = (field: string) => `import mongoose, { Schema } from 'mongoose';
import './db.ts';

export const Event = mongoose.model('Event', new Schema({ at: { type: Date, default: Date.now }, ${field}: String }, { discriminatorKey: 'kind' }));
`;

export const clickModel = (field: string) => `import { Schema } from 'mongoose';
import { Event } from './event.ts';

export const Click = Event.discriminator('Click', new Schema({ x: Number, y: Number, ${field}: Number }));
`;

export interface NitroDev {
  project: Project;
  url: string;
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body: unknown): Promise<T>;
  /** Saves the file until `check` sees the effect (saving again if the watcher folded the save). */
  edit<T>(file: string, content: string, check: () => Promise<T>): Promise<Exclude<T, false | null | undefined | 0 | ''>>;
  /** What the terminal running `vite dev` shows: Vite's, Nitro's and the dev worker's output. */
  output: string[];
  close(): Promise<void>;
}

/** A copy of test/nitro-app (its node_modules linked in), run as its README says: `vite dev`. */
export async function startNitroApp(env: Record<string, string>): Promise<NitroDev> {
  linkOrmHmr(nitroApp);
  const project = new Project('nitro', {}, join(nitroApp, '.tmp'));
  // Below test/nitro-app and without a package.json of its own: packages resolve from the app's
  // node_modules, and Vite's file-serving root is the app's (it holds Nitro's runtime files).
  for (const entry of ['models', 'routes', 'vite.config.ts', 'nitro.config.mjs', 'tsconfig.json']) {
    cpSync(join(nitroApp, entry), project.path(entry), { recursive: true });
  }
  const port = await freePort();
  const output: string[] = [];
  const vite = join(nitroApp, 'node_modules', 'vite', 'bin', 'vite.js');
  const child: ChildProcess = spawn(process.execPath, [vite, 'dev', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
    cwd: project.root,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  child.stderr!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  const url = `http://127.0.0.1:${port}`;
  const request = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${url}${path}`, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };
  const get = <T = any>(path: string) => request<T>(path);
  const post = <T = any>(path: string, body: unknown) =>
    request<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let exited = false;
  child.on('exit', () => (exited = true));
  const close = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    project.remove();
  };
  try {
    const up = await until(async () => (exited ? 'exited' : get('/api/fields')), 60_000, 'the Nitro app to answer', 200);
    if (up === 'exited') throw new Error('vite dev exited');
  } catch (error) {
    await close();
    throw new Error(`${(error as Error).message}\n--- output ---\n${output.join('').slice(-4000)}`);
  }
  let lastWrite = 0;
  return {
    project,
    url,
    get,
    post,
    output,
    async edit(file, content, check) {
      const wait = lastWrite + 150 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (let attempt = 1; ; attempt++) {
        project.write(file, content);
        lastWrite = Date.now();
        try {
          return await until(check, 8_000, `${file} to take effect`, 30);
        } catch (error) {
          if (attempt >= 3) throw new Error(`${(error as Error).message}\n--- output ---\n${output.join('').slice(-4000)}`);
        }
      }
    },
    close,
  };
}
