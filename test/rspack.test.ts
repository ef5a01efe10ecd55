import { readFileSync, readdirSync } from 'node:fs';
import { rspack, type RspackOptions } from '@rspack/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { OrmHmrPlugin } from '../dist/webpack/index.js';
import { clickModel, eventModel, userModel } from './helpers/fixtures.ts';
import { Project, until } from './helpers/project.ts';
import { files } from './helpers/server-app.ts';
import { serverConfig, startWebpackApp, type WebpackDev } from './helpers/webpack.ts';

// OrmHmrPlugin as an Rspack 2 plugin, unchanged: the same NestJS-style app as the webpack suite,
// built by Rspack in watch mode, run in a child process and patched by @rspack/core/hot/poll
// (every 100 ms, as NestJS's recipe and Rspack's NestJS guide poll) or /signal.
let n = 0;
describe.each(['poll', 'signal'] as const)('Rspack server HMR (@rspack/core/hot/%s)', (hot) => {
  let project: Project;
  let dev: WebpackDev;
  afterEach(async () => {
    await dev?.close();
    project?.remove();
  });

  it('serves the edited schema at the entry boundary, reloads discriminators and keeps one generation', async () => {
    const p = `Rs${hot}${++n}`;
    project = new Project(`rspack-${hot}`, files(p));
    dev = await startWebpackApp(project, { bundler: 'rspack', hot, options: { report: 'orm-hmr.jsonl' }, env: { MONGODB_URI: inject('mongoUri') } });
    const pid = await dev.get('/pid');
    expect(await dev.get('/fields')).toContain('f1');
    for (let version = 2; version <= 21; version++) {
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
    expect(await dev.get('/pid')).toBe(pid); // patched in place, never restarted

    await dev.get('/settled'); // the last batch is written
    const lines = readFileSync(project.path('orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0].reload).toBe(1);
    expect(lines[0].files).toEqual(expect.arrayContaining(['models/user.ts']));
    expect(lines.at(-1).purged).toEqual(expect.arrayContaining([{ adapter: 'mongoose', name: `${p}Event` }]));
    const text = dev.output.join('');
    expect(text).toMatch(new RegExp(`\\[orm-hmr\\] reload #\\d+ models/user\\.ts.* · purged mongoose:${p}User`));
    expect(text).not.toMatch(/OverwriteModelError|restart the application/);
  });

  it('applies edits below the entry, keeps the last good models when an edit throws, and recovers', async () => {
    const p = `RsErr${hot}${++n}`;
    project = new Project(`rspack-err-${hot}`, files(p, 'boundary'));
    dev = await startWebpackApp(project, { bundler: 'rspack', hot });
    await dev.edit('models/user.ts', userModel(p, 2), async () => (await dev.get<string[]>('/fields')).includes('f2'));
    await dev.edit('models/user.ts', userModel(p, 3).replace('export const User', `throw new Error('bad save');\nexport const User`), async () =>
      /threw while evaluating/.test(dev.output.join('')),
    );
    // The old modules keep running, and the registry holds their models again.
    expect(await dev.get('/fields')).toContain('f2');
    expect(await dev.get('/byName')).toContain('f2');
    await dev.edit('models/user.ts', userModel(p, 4), async () => (await dev.get<string[]>('/fields')).includes('f4'));
    expect(await dev.get('/byName')).toContain('f4');
    expect(dev.output.join('')).toMatch(/\[app\] routes reloaded/);
  });
});

describe('Rspack writing a hot update while the app polls for it', () => {
  // Rspack writes every asset at once, each created empty and then filled; the app's hot/poll
  // require()s the manifest as soon as it exists. Polling every 5 ms, an unprotected build reads
  // a cut manifest within the first few saves ("Unexpected end of JSON input"). The plugin
  // writes the manifest last, and atomically.
  it('never reads a half-written update, polling every 5 ms', async () => {
    const p = `RsRace${++n}`;
    const project = new Project('rspack-race', files(p));
    const dev = await startWebpackApp(project, { bundler: 'rspack', pollMs: 5 });
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

describe('Rspack builds that must not change', () => {
  const build = (config: RspackOptions) =>
    new Promise<string>((resolve, reject) =>
      rspack(config, (error, stats) => {
        if (error || stats?.hasErrors()) return reject(error ?? new Error(stats!.toString({ all: false, errors: true })));
        const dir = config.output!.path!;
        resolve(readdirSync(dir).map((f) => readFileSync(`${dir}/${f}`, 'utf8')).join('\n'));
      }),
    );

  it('adds nothing to a production server build or to a client build', async () => {
    const project = new Project('rspack-build', files('RsBuild'));
    try {
      project.write('prod.js', `import { User } from './models/user.ts';\nconsole.log(User.modelName);\n`);
      const production = serverConfig(project, { hot: 'poll', bundler: 'rspack' }) as RspackOptions;
      Object.assign(production, { mode: 'production', entry: './prod.js', devtool: false, output: { ...production.output, path: project.path('prod') }, plugins: [new OrmHmrPlugin()] });
      const client = serverConfig(project, { hot: 'poll', bundler: 'rspack' }) as RspackOptions;
      Object.assign(client, {
        target: 'web',
        entry: './models/user.ts',
        devtool: false,
        externalsPresets: {},
        output: { path: project.path('client'), filename: 'client.js' },
        plugins: [new OrmHmrPlugin()],
      });
      const [server, browser] = [await build(production), await build(client)];
      expect(server).toContain('RsBuildUser');
      for (const output of [server, browser]) expect(output).not.toMatch(/__orm_hmr|orm-hmr/);
      // The same config in development does get the wrapper: the check above can fail.
      const development = serverConfig(project, { hot: 'poll', bundler: 'rspack' }) as RspackOptions;
      Object.assign(development, { entry: './prod.js', devtool: false, output: { ...development.output, path: project.path('dev') }, plugins: [new OrmHmrPlugin()] });
      expect(await build(development)).toMatch(/__orm_hmr__\.commit\(/);
    } finally {
      project.remove();
    }
  });
});
