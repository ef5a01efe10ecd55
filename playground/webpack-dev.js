// `npm run dev:webpack`: the playground under webpack's server HMR, NestJS style. webpack watches
// and rebuilds here; the app runs in a child process it restarts never, patched by webpack/hot/poll.
// `npm run dev:rspack` (`--rspack`): the same with Rspack, its SWC loader and @rspack/core/hot/poll,
// as NestJS 12's Rspack builder sets it up.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rspack } from '@rspack/core';
import webpack from 'webpack';
import { OrmHmrPlugin } from '../dist/webpack/index.js';
import { DatabaseUnavailable, startDatabase } from '../db/ferretdb.js';

const require = createRequire(import.meta.url);
// PLAYGROUND_DIR: a copy of the playground to serve instead (the benchmark edits a copy).
const here = process.env.PLAYGROUND_DIR ?? dirname(fileURLToPath(import.meta.url));
// How often the app checks for updates (NestJS's recipe polls; webpack/hot/poll's own default is 1 s).
const pollMs = Number(process.env.HOT_POLL_MS ?? 1000);
const database = await startDatabase({ dir: join(here, '.data'), database: 'playground' }).catch((error) => {
  if (!(error instanceof DatabaseUnavailable)) throw error;
  console.error(error.message); // what to do (install Go, or set MONGODB_URI), without a stack
  process.exit(1);
});
console.log(`[playground] database ${database.embedded ? '(embedded FerretDB) ' : ''}ready`);

const useRspack = process.argv.includes('--rspack');
const name = useRspack ? 'rspack' : 'webpack';
// Rspack compiles TypeScript with its built-in SWC loader (what NestJS's Rspack builder uses).
const typescript = useRspack
  ? { loader: 'builtin:swc-loader', options: { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } } }
  : join(here, 'ts-loader.cjs');
const config = {
  context: here,
  mode: 'development',
  target: 'node',
  devtool: 'source-map',
  entry: [`${require.resolve(useRspack ? '@rspack/core/hot/poll' : 'webpack/hot/poll')}?${pollMs}`, './server.ts'],
  output: { path: join(here, '.data', name), filename: 'server.cjs', hotUpdateChunkFilename: '[id].[fullhash].hot-update.cjs', library: { type: 'commonjs2' } },
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [{ test: /\.ts$/, exclude: /node_modules/, use: typescript }] },
  externalsPresets: { node: true },
  externals: { mongoose: 'commonjs mongoose' },
  plugins: [
    new (useRspack ? rspack : webpack).HotModuleReplacementPlugin(),
    new OrmHmrPlugin({ report: join(here, '.data', `orm-hmr-${name}.jsonl`) }),
  ],
  infrastructureLogging: { level: 'info' },
};
const compiler = useRspack ? rspack(config) : webpack(config);

let app;
// The bundler's own default delay before a rebuild (webpack 20 ms, Rspack 5 ms), as the Nest CLI uses it.
compiler.watch({}, (error, stats) => {
  if (error || stats.hasErrors()) {
    console.error(error ?? stats.toString('errors-only'));
    return;
  }
  // Like NestJS's run-script plugin: start the app once, then let HMR patch it.
  app ??= fork(join(here, '.data', name, 'server.cjs'), { env: { ...process.env, MONGODB_URI: database.uri } });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    app?.kill();
    await database.stop();
    process.exit(0);
  });
}
