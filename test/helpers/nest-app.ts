import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ansi, linkOrmHmr, Project, until } from './project.ts';
import { freePort } from './webpack.ts';

/** test/nest-app: a NestJS 12 app with its own package.json (`npm ci --prefix test/nest-app`). */
export const nestApp = join(import.meta.dirname, '..', 'nest-app');

/** The files of the Cat schema (@nestjs/mongoose) and of the Owner model (module scope), with one extra field each. */
export const catSchema = (field: string) => `import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

export type CatDocument = HydratedDocument<Cat>;

@Schema()
export class Cat {
  @Prop({ required: true })
  name: string;

  @Prop()
  ${field}: string;
}

export const CatSchema = SchemaFactory.createForClass(Cat);
`;

export const ownerModel = (field: string) => `import mongoose from 'mongoose';

if (mongoose.connection.readyState === 0) mongoose.connect(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/nest-app');

const ownerSchema = new mongoose.Schema({
  name: { type: String, required: true },
  ${field}: String,
});

export const Owner = mongoose.model('Owner', ownerSchema);
`;

export interface NestDev {
  project: Project;
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body: unknown): Promise<T>;
  /** Saves the file until `check` sees the effect (saving again if the watcher folded the save). */
  edit<T>(file: string, content: string, check: () => Promise<T>): Promise<Exclude<T, false | null | undefined | 0 | ''>>;
  /** The Nest CLI's output, the builder's and the app's (RunScriptWebpackPlugin runs it with inherited stdio). */
  output: string[];
  close(): Promise<void>;
}

/**
 * A copy of test/nest-app (its node_modules linked in), run as its README says:
 * `nest build --builder <builder> --<builder>Path <builder>-hmr.config.js --watch`.
 */
export async function startNestApp(builder: 'rspack' | 'webpack', env: Record<string, string>): Promise<NestDev> {
  linkOrmHmr(nestApp);
  const project = new Project(`nest-${builder}`, {}, join(nestApp, '.tmp'));
  for (const entry of ['src', 'nest-cli.json', 'tsconfig.json', 'package.json', `${builder}-hmr.config.js`]) {
    cpSync(join(nestApp, entry), project.path(entry), { recursive: true });
  }
  // webpack-node-externals reads ./node_modules to know what to leave external.
  symlinkSync(join(nestApp, 'node_modules'), project.path('node_modules'), 'dir');
  const port = await freePort();
  const output: string[] = [];
  const cli = join(nestApp, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const child: ChildProcess = spawn(process.execPath, [cli, 'build', '--builder', builder, `--${builder}Path`, `${builder}-hmr.config.js`, '--watch'], {
    cwd: project.root,
    env: { ...process.env, PORT: String(port), FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: the CLI and the app it runs are stopped together
  });
  child.stdout!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  child.stderr!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  const request = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return body as T;
  };
  const get = <T = any>(path: string) => request<T>(path);
  const post = <T = any>(path: string, body: unknown) =>
    request<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const close = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    project.remove();
  };
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    const up = await until(async () => (exited ? 'exited' : get('/health')), 90_000, `the Nest app (${builder}) to listen`, 200);
    if (up === 'exited') throw new Error(`the Nest CLI exited`);
  } catch (error) {
    await close();
    throw new Error(`${(error as Error).message}\n--- output ---\n${output.join('').slice(-4000)}`);
  }
  let lastWrite = 0;
  return {
    project,
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
          return await until(check, 10_000, `${file} to take effect`, 30);
        } catch (error) {
          if (attempt >= 3) throw new Error(`${(error as Error).message}\n--- output ---\n${output.join('').slice(-4000)}`);
        }
      }
    },
    close,
  };
}
