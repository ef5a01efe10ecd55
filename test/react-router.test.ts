import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clickModel, eventModel, userModel } from './helpers/fixtures.ts';
import { startDevProcess, type DevProcess } from './helpers/dev-process.ts';
import { Project, saveUntil, until } from './helpers/project.ts';

// React Router 8 needs Node 22.22+: test/react-router-app's engines keep this file out of a run on
// an older Node (vitest.config.ts); it runs in `npm run test:node24`.
const app = join(import.meta.dirname, 'react-router-app');
const bin = join(app, 'node_modules/@react-router/dev/bin.cjs');
const vitePlugin = join(import.meta.dirname, '../dist/vite/index.js');

/** A framework-mode app: a root route and two resource routes using Mongoose models on the real database. */
function files(p: string): Record<string, string> {
  const connect = `if (mongoose.connection.readyState === 0) await mongoose.connect(process.env.MONGODB_URI!);`;
  return {
    'package.json': JSON.stringify({ name: 'react-router-fixture', private: true, type: 'module' }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', jsx: 'react-jsx', strict: true } }),
    // In your app: import ormHmr from 'orm-hmr/vite'
    'vite.config.ts': `import { reactRouter } from '@react-router/dev/vite';
import { defineConfig } from 'vite';
import ormHmr from ${JSON.stringify(vitePlugin)};

export default defineConfig({
  plugins: [reactRouter(), ormHmr({ report: 'orm-hmr.jsonl' })],
});
`,
    'react-router.config.ts': `import type { Config } from '@react-router/dev/config';

export default { ssr: true } satisfies Config;
`,
    'app/root.tsx': `import { Links, Meta, Outlet, Scripts } from 'react-router';

export default function Root() {
  return (
    <html lang="en">
      <head><Meta /><Links /></head>
      <body><Outlet /><Scripts /></body>
    </html>
  );
}
`,
    'app/routes.ts': `import { route, type RouteConfig } from '@react-router/dev/routes';

export default [
  route('api/users', 'routes/api.users.ts'),
  route('api/clicks', 'routes/api.clicks.ts'),
] satisfies RouteConfig;
`,
    // Resource routes: a loader and no component, answering JSON.
    'app/routes/api.users.ts': `import mongoose from 'mongoose';
import { User } from '../models/user.ts';

export async function loader() {
  ${connect}
  const user = await User.create({ name: 'ada', f3: 'three' });
  return Response.json({ fields: Object.keys(User.schema.paths), byName: Object.keys(mongoose.model('${p}User').schema.paths), f3: (user as any).f3 ?? null });
}
`,
    'app/routes/api.clicks.ts': `import mongoose from 'mongoose';
import { Click } from '../models/click.ts';
import { Event } from '../models/event.ts';

export async function loader() {
  ${connect}
  await Click.create({ x: 1 });
  return Response.json({ fields: Object.keys(Click.schema.paths), registered: Event.discriminators?.['${p}Click'] === Click, kinds: (await Event.find().lean()).map((e: any) => e.kind) });
}
`,
    'app/models/user.ts': userModel(p, 1),
    'app/models/event.ts': eventModel(p, 1),
    'app/models/click.ts': clickModel(p, 1),
  };
}

describe('React Router 8 framework mode (react-router dev)', () => {
  const p = 'Rr';
  const project = new Project('react-router', files(p), join(app, '.tmp'));
  let dev: DevProcess | undefined;
  afterAll(async () => {
    await dev?.stop();
    project.remove();
  });

  it('applies 20 model edits and a discriminator edit on the next request, old generations collected', async () => {
    dev = await startDevProcess(bin, (port) => ['dev', '--port', String(port), '--host', '127.0.0.1', '--strictPort'], {
      cwd: project.root,
      env: { MONGODB_URI: inject('mongoUri') },
      ready: '/api/users',
    });
    const { get } = dev;
    expect((await get('/api/users')).fields).toContain('f1');
    for (let version = 2; version <= 21; version++) {
      // A person saves at most every few hundred ms: half a second between a save seen live and
      // the next, long enough for the reload to be measured while nothing is served.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const body = await saveUntil(project, 'app/models/user.ts', userModel(p, version), async () => {
        const body = await get('/api/users');
        return body.fields.includes(`f${version}`) && body;
      }, 100);
      expect(body.byName).toContain(`f${version}`);
      expect(body.fields).not.toContain(`f${version - 1}`);
      if (version === 3) expect(body.f3).toBe('three');
    }
    const clicks = await get('/api/clicks');
    expect(clicks.registered).toBe(true);
    const edited = await saveUntil(project, 'app/models/click.ts', clickModel(p, 2), async () => {
      const body = await get('/api/clicks');
      return body.fields.includes('c2') && body;
    }, 100);
    expect(edited.registered).toBe(true);
    expect(edited.kinds).toContain(`${p}Click`);
    // The base model edited: its discriminator is registered again on the new one.
    const rebased = await saveUntil(project, 'app/models/event.ts', eventModel(p, 2), async () => {
      const body = await get('/api/clicks');
      return body.fields.includes('e2') && body;
    }, 100);
    expect(rebased.registered).toBe(true);

    const text = dev.output();
    expect(text).not.toMatch(/OverwriteModelError|Cannot overwrite|already has a discriminator/);
    expect(text).toMatch(new RegExp(`\\[orm-hmr\\] reload #\\d+ .*models/user\\.ts.* · purged mongoose:${p}User`));
    await until(() => readFileSync(project.path('orm-hmr.jsonl'), 'utf8').includes(`"${p}Event"`), 10_000, 'the report');
    const records = readFileSync(project.path('orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const reloads = records.filter((r) => r.purged.some((x: { name: string }) => x.name === `${p}User`));
    expect(reloads.length).toBeGreaterThanOrEqual(10);
    // Counted after a GC (a line that saves kept following on a busy server has no such count).
    const users = reloads.filter((r) => r.gc).map((r) => r.alive[`${p}User`]);
    expect(users.length).toBeGreaterThanOrEqual(10);
    // Vite's module runner drops the previous evaluation whole: one generation alive, after every reload.
    expect(Math.max(...users), `alive after each reload: ${users.join(', ')}`).toBe(1);
  });
});
