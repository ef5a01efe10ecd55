import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import webpack, { type Configuration } from 'webpack';
import { rspack } from '@rspack/core';
import type { OrmHmrWebpackOptions } from '../../src/webpack/index.ts';
import { ansi, freePort, Project, until } from './project.ts';

export { freePort };

const require = createRequire(import.meta.url);
export const runtimeFile = join(import.meta.dirname, '../../dist/runtime/index.js');


export type Bundler = 'webpack' | 'rspack';

/** Where each bundler's HMR client entries live: `webpack/hot/poll`, `@rspack/core/hot/poll`. */
const hotPackage: Record<Bundler, string> = { webpack: 'webpack', rspack: '@rspack/core' };

/**
 * webpack (or Rspack) config of a NestJS-style server build: target node, HMR through
 * `hot/poll` or `hot/signal`. `pollMs`: NestJS's recipe polls every 100 ms.
 */
export function serverConfig(
  project: Project,
  {
    hot,
    plugins = [],
    entry = './server.js',
    bundler = 'webpack',
    pollMs = 100,
    externals = {},
  }: { hot: 'poll' | 'signal'; plugins?: Configuration['plugins']; entry?: string; bundler?: Bundler; pollMs?: number; externals?: Record<string, string> },
): Configuration {
  const hotEntry = hot === 'poll' ? `${require.resolve(`${hotPackage[bundler]}/hot/poll`)}?${pollMs}` : require.resolve(`${hotPackage[bundler]}/hot/signal`);
  const HotModuleReplacementPlugin = bundler === 'rspack' ? rspack.HotModuleReplacementPlugin : webpack.HotModuleReplacementPlugin;
  return {
    context: project.root,
    mode: 'development',
    target: 'node',
    devtool: 'source-map',
    entry: [hotEntry, entry],
    output: {
      path: project.path('dist'),
      filename: 'main.cjs',
      chunkFilename: '[id].cjs',
      hotUpdateChunkFilename: '[id].[fullhash].hot-update.cjs',
      library: { type: 'commonjs2' },
    },
    externalsPresets: { node: true },
    externals: { mongoose: 'commonjs mongoose', ...externals },
    plugins: [new HotModuleReplacementPlugin() as never, ...(plugins ?? [])],
    watchOptions: { aggregateTimeout: 20 },
  };
}

export interface WebpackDev {
  /** GET a JSON route of the running app. */
  get<T = any>(path: string): Promise<T>;
  /**
   * Saves the file until `check` sees the effect: waits for webpack's rebuild (with `signal`, then
   * tells the app), and saves again if the watcher folded the save into an earlier one.
   */
  edit<T>(file: string, content: string, check: () => Promise<T>): Promise<Exclude<T, false | null | undefined | 0 | ''>>;
  /** The app's stdout and stderr, and webpack's infrastructure log. */
  output: string[];
  close(): Promise<void>;
}

/** Runs webpack (or Rspack) in watch mode here and the built app in a child process, as NestJS's run-script plugin does. */
export async function startWebpackApp(
  project: Project,
  {
    hot = 'poll',
    options = {},
    env = {},
    entry,
    bundler = 'webpack',
    pollMs,
    externals,
  }: { hot?: 'poll' | 'signal'; options?: OrmHmrWebpackOptions; env?: Record<string, string>; entry?: string; bundler?: Bundler; pollMs?: number; externals?: Record<string, string> } = {},
): Promise<WebpackDev> {
  const { OrmHmrPlugin } = await import('../../dist/webpack/index.js');
  const output: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      output.push(String(chunk).replace(ansi, ''));
      done();
    },
  });
  const config = serverConfig(project, { hot, entry, bundler, pollMs, externals, plugins: [new OrmHmrPlugin({ settleMs: 30, ...options })] });
  config.infrastructureLogging = { level: 'info', stream: stream as never, colors: false };
  const compiler = bundler === 'rspack' ? rspack(config as never) : webpack(config);
  let builds = 0;
  let lastError: string | undefined;
  const watching = (compiler as webpack.Compiler).watch(config.watchOptions ?? {}, (error, stats) => {
    builds++;
    lastError = error ? String(error) : stats?.hasErrors() ? stats.toString('errors-only') : undefined;
  });
  await until(() => builds > 0, 60_000, 'first build');
  if (lastError) throw new Error(lastError);

  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [project.path('dist/main.cjs')], {
    cwd: project.root,
    env: { ...process.env, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  child.stderr!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
  const get = async <T = any>(path: string): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return body as T;
  };
  await until(() => get('/fields'), 60_000, 'the app to listen').catch((error: Error) => {
    child.kill();
    throw new Error(`${error.message}\n--- app and webpack output ---\n${output.join('').slice(-3000)}`);
  });
  let lastWrite = 0;
  return {
    get,
    output,
    async edit(file, content, check) {
      // The watcher folds saves closer than a few tens of ms; space them like a person would.
      const wait = lastWrite + 120 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (let attempt = 1; ; attempt++) {
        const before = builds;
        project.write(file, content);
        lastWrite = Date.now();
        try {
          await until(() => builds > before, 8_000, `webpack to rebuild after ${file}`);
          if (hot === 'signal') child.kill('SIGUSR2');
          return await until(check, 8_000, `${file} to take effect`);
        } catch (error) {
          if (attempt >= 4) throw new Error(`${(error as Error).message}\n--- app and webpack output ---\n${output.join('').slice(-3000)}`);
        }
      }
    },
    async close() {
      child.kill();
      await new Promise<void>((resolve) => (watching ? watching.close(() => resolve()) : resolve()));
    },
  };
}
