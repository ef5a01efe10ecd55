// `npm run dev:webpack`: the playground under webpack's server HMR, NestJS style. webpack watches
// and rebuilds here; the app runs in a child process it restarts never, patched by webpack/hot/poll.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const compiler = webpack({
  context: here,
  mode: 'development',
  target: 'node',
  devtool: 'source-map',
  entry: [`${require.resolve('webpack/hot/poll')}?${pollMs}`, './server.ts'],
  output: { path: join(here, '.data', 'webpack'), filename: 'server.cjs', hotUpdateChunkFilename: '[id].[fullhash].hot-update.cjs', library: { type: 'commonjs2' } },
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [{ test: /\.ts$/, exclude: /node_modules/, use: join(here, 'ts-loader.cjs') }] },
  externalsPresets: { node: true },
  externals: { mongoose: 'commonjs mongoose' },
  plugins: [new webpack.HotModuleReplacementPlugin(), new OrmHmrPlugin({ report: join(here, '.data', 'orm-hmr-webpack.jsonl') })],
  infrastructureLogging: { level: 'info' },
});

let app;
compiler.watch({ aggregateTimeout: 100 }, (error, stats) => {
  if (error || stats.hasErrors()) {
    console.error(error ?? stats.toString('errors-only'));
    return;
  }
  // Like NestJS's run-script plugin: start the app once, then let HMR patch it.
  app ??= fork(join(here, '.data', 'webpack', 'server.cjs'), { env: { ...process.env, MONGODB_URI: database.uri } });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    app?.kill();
    await database.stop();
    process.exit(0);
  });
}
