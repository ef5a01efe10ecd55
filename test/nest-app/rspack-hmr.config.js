// NestJS's HMR recipe for the Rspack builder (nest build --builder rspack --watch), with orm-hmr.
const nodeExternals = require('webpack-node-externals');
const { RunScriptWebpackPlugin } = require('run-script-webpack-plugin');
const { OrmHmrPlugin } = require('orm-hmr/webpack');

module.exports = function (options, rspack) {
  return {
    ...options,
    entry: ['@rspack/core/hot/poll?100', options.entry],
    externals: [nodeExternals({ allowlist: ['@rspack/core/hot/poll?100'] })],
    // Rspack has no WatchIgnorePlugin: the recipe's ignore list goes here.
    watchOptions: { ignored: ['**/node_modules/**', '**/dist/**', '**/*.d.ts'] },
    plugins: [
      ...options.plugins,
      new rspack.HotModuleReplacementPlugin(),
      new RunScriptWebpackPlugin({ name: options.output.filename, autoRestart: false }),
      new OrmHmrPlugin(),
    ],
  };
};
