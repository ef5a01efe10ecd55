import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { startDevProcess, type DevProcess } from './helpers/dev-process.ts';
import { Project, until } from './helpers/project.ts';

// README's playground as `npm run dev` serves it: Vite's CLI with the repo's own vite.config.ts
// (the suite has built dist/), on a copy of playground/ so the edit stays in the copy. From a
// fresh clone on Node 20 its first model edit once threw OverwriteModelError: the config loaded
// the plugin from src/, whose built-in adapters (.ts, required on first use) Node 20 cannot load.

const repo = join(import.meta.dirname, '..');
const project = new Project('playground');
cpSync(join(repo, 'playground'), project.root, { recursive: true, filter: (src) => !src.includes('.data') });
let dev: DevProcess | undefined;

afterAll(async () => {
  await dev?.stop();
  project.remove();
});

it('npm run dev: an added User field answers on the next request, with one memory line and no adapter error', async () => {
  dev = await startDevProcess(join(repo, 'node_modules', 'vite', 'bin', 'vite.js'), (port) => [project.root, '--config', join(repo, 'vite.config.ts'), '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
    cwd: repo,
    env: { MONGODB_URI: inject('mongoUri') },
    ready: '/api/users',
  });
  expect((await dev.get('/api/users')).fields).not.toContain('age');
  const model = project.path('models/user.ts');
  writeFileSync(model, readFileSync(model, 'utf8').replace('    email: String,\n', '    email: String,\n    age: Number,\n'));
  await until(async () => (await dev!.get('/api/users')).fields.includes('age'), 15_000, 'the new field');
  await until(() => /\[orm-hmr\] reload #1 models\/user\.ts/.test(dev!.output()), 10_000, 'the memory line');
  const output = dev.output();
  expect(output).toMatch(/\[orm-hmr\] reload #1 models\/user\.ts.* · purged mongoose:User .*alive User 1/);
  expect(output).not.toMatch(/failed to attach|OverwriteModelError/);
});
