import { readFileSync, readdirSync } from 'node:fs';
import mongoose from 'mongoose';
import webpack from 'webpack';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { OrmHmrPlugin } from '../dist/webpack/index.js';
import { clickModel, eventModel, userModel } from './helpers/fixtures.ts';
import { files } from './helpers/server-app.ts';
import { ansi, Project, saveUntil, until } from './helpers/project.ts';
import { serverConfig, startWebpackApp, type WebpackDev, runtimeFile } from './helpers/webpack.ts';

let n = 0;
describe.each(['poll', 'signal'] as const)('webpack server HMR (webpack/hot/%s)', (hot) => {
  let project: Project;
  let dev: WebpackDev;
  afterEach(async () => {
    await dev?.close();
    project?.remove();
  });

  it('serves the edited schema, reloads discriminators and keeps one generation', async () => {
    const p = `Wp${hot}${++n}`;
    project = new Project(`webpack-${hot}`, files(p));
    dev = await startWebpackApp(project, { hot, options: { report: 'orm-hmr.jsonl' }, env: { MONGODB_URI: inject('mongoUri') } });
    expect(await dev.get('/fields')).toContain('f1');
    for (let version = 2; version <= 31; version++) {
      await dev.edit('models/user.ts', userModel(p, version), async () => (await dev.get<string[]>('/fields')).includes(`f${version}`));
      expect(await dev.get('/byName')).toContain(`f${version}`);
      if (version === 3) expect((await dev.get('/create')).f3).toBe('three');
    }
    expect((await dev.get('/settled')).alive[`${p}User`]).toBeGreaterThanOrEqual(1);
    // One generation, once the previous app's server has finished closing.
    await until(async () => (await dev.get('/alive'))[`${p}User`] === 1, 10_000, 'one generation of User');

    await dev.edit('models/click.ts', clickModel(p, 2), async () => (await dev.get('/click')).fields.includes('c2'));
    expect((await dev.get('/click')).registered).toBe(true);
    await dev.edit('models/event.ts', eventModel(p, 2), async () => (await dev.get('/click')).fields.includes('e2'));
    expect((await dev.get('/click')).registered).toBe(true);

    await dev.get('/settled'); // the last batch is written
    const lines = readFileSync(project.path('orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0].reload).toBe(1);
    expect(lines[0].files).toEqual(expect.arrayContaining(['models/user.ts']));
    expect(lines.at(-1).purged).toEqual(expect.arrayContaining([{ adapter: 'mongoose', name: `${p}Event` }]));
    const text = dev.output.join('');
    expect(text).toMatch(new RegExp(`\\[orm-hmr\\] reload #\\d+ models/user\\.ts.* · purged mongoose:${p}User`));
    expect(text).not.toMatch(/OverwriteModelError/);
  });

  it('keeps serving the last good models when an edit throws, and recovers', async () => {
    const p = `WpErr${hot}${++n}`;
    project = new Project(`webpack-err-${hot}`, files(p, 'boundary'));
    dev = await startWebpackApp(project, { hot });
    await dev.edit('models/user.ts', userModel(p, 2).replace('export const User', `throw new Error('bad save');\nexport const User`), async () =>
      /threw while evaluating/.test(dev.output.join('')),
    );
    // The old modules keep running, and the registry holds their models again.
    expect(await dev.get('/fields')).toContain('f1');
    expect(await dev.get('/byName')).toContain('f1');
    expect(dev.output.join('')).toMatch(/models\/user\.ts threw while evaluating \(or a module it imports did\); kept the previous/);
    await dev.edit('models/user.ts', userModel(p, 3), async () => (await dev.get<string[]>('/fields')).includes('f3'));
    expect(await dev.get('/byName')).toContain('f3');
  });
});

describe('webpack writing a hot update while the app polls for it', () => {
  // webpack writes every asset at once, each created empty and then filled; the app's hot/poll
  // require()s the manifest as soon as it exists. Polling every 5 ms, an unprotected build reads
  // a cut manifest within the first few saves ("Unexpected end of JSON input"). The plugin
  // writes the manifest last, and atomically.
  it('never reads a half-written update, polling every 5 ms', async () => {
    const p = `WeRace${++n}`;
    const project = new Project('webpack-race', files(p));
    const dev = await startWebpackApp(project, { bundler: 'webpack', pollMs: 5 });
    try {
      for (let version = 2; version <= 21; version++) {
        await dev.edit('models/user.ts', userModel(p, version), async () => (await dev.get<string[]>('/fields')).includes(`f${version}`));
      }
      expect(dev.output.join('')).not.toMatch(/Unexpected end of JSON|Update failed|restart the application/);
    } finally {
      await dev.close();
      project.remove();
    }
  });
});

describe('CommonJS output, as ts-loader gives it in NestJS', () => {
  it('hands the required mongoose to the runtime and reloads the model', async () => {
    const p = `WpCjs${++n}`;
    const dog = (version: number) => `"use strict";
const mongoose_1 = require("mongoose");
exports.Dog = mongoose_1.default.model(${JSON.stringify(`${p}Dog`)}, new mongoose_1.Schema({ name: String, v${version}: String }));
`;
    const project = new Project('webpack-cjs', {
      'server.cjs': `"use strict";
const http = require("node:http");
const { Dog } = require("./dog.model.cjs");
const server = http.createServer((req, res) => res.end(JSON.stringify(Object.keys(Dog.schema.paths))));
server.listen(Number(process.env.PORT), "127.0.0.1");
if (module.hot) {
  module.hot.accept();
  module.hot.dispose(() => { server.close(); server.closeAllConnections(); });
}
`,
      'dog.model.cjs': dog(1),
    });
    const dev = await startWebpackApp(project, { entry: './server.cjs' });
    try {
      for (let version = 2; version <= 6; version++) {
        await dev.edit('dog.model.cjs', dog(version), async () => (await dev.get<string[]>('/fields')).includes(`v${version}`));
      }
      // The line comes once the app has had a quiet moment (or V8 collected on its own): never a pause under load.
      const line = new RegExp(`\\[orm-hmr\\] reload #\\d+ dog\\.model\\.cjs.* · purged mongoose:${p}Dog`);
      await until(() => line.test(dev.output.join('')), 15_000, 'the memory line');
      const text = dev.output.join('');
      expect(text).not.toMatch(/OverwriteModelError|Cannot overwrite/);
      expect(text).toMatch(line);
    } finally {
      await dev.close();
      project.remove();
    }
  });
});

describe('webpack builds that must not change', () => {
  const project = new Project('webpack-build', files('WpBuild'));

  const build = (config: webpack.Configuration) =>
    new Promise<string>((resolve, reject) =>
      webpack(config, (error, stats) => {
        if (error || stats?.hasErrors()) return reject(error ?? new Error(stats!.toString('errors-only')));
        const dir = config.output!.path!;
        resolve(readdirSync(dir).map((f) => readFileSync(`${dir}/${f}`, 'utf8')).join('\n'));
      }),
    );

  it('adds nothing to a production server build or to a client build', async () => {
    project.write('prod.js', `import { User } from './models/user.ts';\nconsole.log(User.modelName);\n`);
    const production = serverConfig(project, { hot: 'poll', plugins: [new OrmHmrPlugin()] });
    Object.assign(production, { mode: 'production', entry: './prod.js', devtool: false, output: { ...production.output, path: project.path('prod') } });
    production.plugins = [new OrmHmrPlugin()];
    const client = serverConfig(project, { hot: 'poll', plugins: [new OrmHmrPlugin()] });
    Object.assign(client, { target: 'web', entry: './models/user.ts', devtool: false, externalsPresets: {}, output: { path: project.path('client'), filename: 'client.js' } });
    client.plugins = [new OrmHmrPlugin()];
    const [server, browser] = [await build(production), await build(client)];
    expect(server).toContain('WpBuildUser');
    for (const output of [server, browser]) expect(output).not.toMatch(/__orm_hmr|orm-hmr/);
    project.remove();
  });
});

it('keeps mongoose as the test process sees it', () => {
  // The app runs in its own process: nothing of its registry leaks into ours.
  expect(mongoose.modelNames().filter((name) => name.startsWith('Wp'))).toEqual([]);
});

describe('an app that runs in the compiler process, re-required after each build (as Next.js does)', () => {
  it('reloads models and logs through webpack’s infrastructure logger', async () => {
    const { createRequire } = await import('node:module');
    const { Writable } = await import('node:stream');
    const p = `WpInProc${++n}`;
    const project = new Project('webpack-inproc', {
      'entry.js': `export { User } from './models/user.ts';\n`,
      'models/user.ts': userModel(p, 1),
    });
    const logged: string[] = [];
    const config = serverConfig(project, { hot: 'poll', plugins: [new OrmHmrPlugin({ settleMs: 20 })] });
    Object.assign(config, { entry: './entry.js', plugins: [new OrmHmrPlugin({ settleMs: 20 })] });
    config.infrastructureLogging = {
      level: 'info',
      colors: false,
      stream: new Writable({
        write(chunk, _encoding, done) {
          logged.push(String(chunk).replace(ansi, ''));
          done();
        },
      }) as never,
    };
    const compiler = webpack(config);
    let builds = 0;
    const watching = compiler.watch({ aggregateTimeout: 20 }, () => builds++);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the watcher settle in
    const requireFresh = () => {
      const file = project.path('dist/main.cjs');
      const require = createRequire(file);
      delete require.cache[file];
      return require(file) as { User: mongoose.Model<unknown> };
    };
    try {
      await until(() => builds > 0, 60_000);
      // The runtime is required by Node, once: no bundle carries a copy of it.
      const bundle = readFileSync(project.path('dist/main.cjs'), 'utf8');
      expect(bundle).toContain(`require(${JSON.stringify(runtimeFile)})`);
      expect(bundle).not.toContain('class Runtime');
      const refs = [new WeakRef(requireFresh().User)];
      for (let version = 2; version <= 6; version++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        // Poll as Next.js does on each request: re-require the server bundle once it is rebuilt.
        const User = await saveUntil(project, 'models/user.ts', userModel(p, version), () => {
          const { User } = requireFresh();
          return User.schema.path(`f${version}`) !== undefined && User;
        });
        expect(mongoose.model(`${p}User`)).toBe(User);
        refs.push(new WeakRef(User));
      }
      const { settled } = await import('../dist/runtime/index.js');
      await settled();
      expect(logged.join('')).toMatch(new RegExp(`\\[orm-hmr\\] reload #\\d+ models/user\\.ts · purged mongoose:${p}User`));
      const { countAlive } = await import('./helpers/scenarios.ts');
      expect(await countAlive(refs)).toBe(1);
    } finally {
      await new Promise<void>((resolve) => watching?.close(() => resolve()));
      project.remove();
    }
  });
});
