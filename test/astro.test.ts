import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clickModel, eventModel, userModel } from './helpers/fixtures.ts';
import { startDevProcess, type DevProcess } from './helpers/dev-process.ts';
import { Project, saveUntil, until } from './helpers/project.ts';

// Astro 7 needs Node 22.12+: test/astro-app's engines keep this file out of a run on an older Node
// (vitest.config.ts); it runs in `npm run test:node24`.
const app = join(import.meta.dirname, 'astro-app');
const bin = join(app, 'node_modules/astro/bin/astro.mjs');
const vitePlugin = join(import.meta.dirname, '../dist/vite/index.js');

/** An Astro site with two API endpoints (rendered on request) using Mongoose models on the real database. */
function files(p: string): Record<string, string> {
  const connect = `if (mongoose.connection.readyState === 0) await mongoose.connect(import.meta.env.MONGODB_URI ?? process.env.MONGODB_URI);`;
  return {
    'package.json': JSON.stringify({ name: 'astro-fixture', private: true, type: 'module' }),
    'tsconfig.json': JSON.stringify({ extends: 'astro/tsconfigs/strict' }),
    // In your project: import ormHmr from 'orm-hmr/vite'
    'astro.config.mjs': `import { defineConfig } from 'astro/config';
import ormHmr from ${JSON.stringify(vitePlugin)};

export default defineConfig({
  vite: { plugins: [ormHmr({ report: 'orm-hmr.jsonl' })] },
});
`,
    'src/pages/index.astro': `---
---
<html><body><h1>orm-hmr on Astro</h1></body></html>
`,
    'src/pages/api/users.ts': `import type { APIRoute } from 'astro';
import mongoose from 'mongoose';
import { User } from '../../models/user.ts';

export const prerender = false;

export const GET: APIRoute = async () => {
  ${connect}
  const user = await User.create({ name: 'ada', f3: 'three' });
  return Response.json({ fields: Object.keys(User.schema.paths), byName: Object.keys(mongoose.model('${p}User').schema.paths), f3: (user as any).f3 ?? null });
};
`,
    'src/pages/api/clicks.ts': `import type { APIRoute } from 'astro';
import mongoose from 'mongoose';
import { Click } from '../../models/click.ts';
import { Event } from '../../models/event.ts';

export const prerender = false;

export const GET: APIRoute = async () => {
  ${connect}
  await Click.create({ x: 1 });
  return Response.json({ fields: Object.keys(Click.schema.paths), registered: Event.discriminators?.['${p}Click'] === Click, kinds: (await Event.find().lean()).map((e: any) => e.kind) });
};
`,
    'src/models/user.ts': userModel(p, 1),
    'src/models/event.ts': eventModel(p, 1),
    'src/models/click.ts': clickModel(p, 1),
  };
}

describe('Astro 7 (astro dev)', () => {
  const p = 'As';
  const project = new Project('astro', files(p), join(app, '.tmp'));
  let dev: DevProcess | undefined;
  afterAll(async () => {
    await dev?.stop();
    project.remove();
  });

  it('applies 20 model edits and a discriminator edit on the next request, old generations collected', async () => {
    dev = await startDevProcess(bin, (port) => ['dev', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: project.root,
      env: { MONGODB_URI: inject('mongoUri'), ASTRO_TELEMETRY_DISABLED: '1' },
      ready: '/api/users',
    });
    const { get } = dev;
    expect((await get('/api/users')).fields).toContain('f1');
    for (let version = 2; version <= 21; version++) {
      // A person saves at most every few hundred ms: half a second between a save seen live and
      // the next, long enough for the reload to be measured while nothing is served.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const body = await saveUntil(project, 'src/models/user.ts', userModel(p, version), async () => {
        const body = await get('/api/users');
        return body.fields.includes(`f${version}`) && body;
      }, 100);
      expect(body.byName).toContain(`f${version}`);
      expect(body.fields).not.toContain(`f${version - 1}`);
      if (version === 3) expect(body.f3).toBe('three');
    }
    const clicks = await get('/api/clicks');
    expect(clicks.registered).toBe(true);
    const edited = await saveUntil(project, 'src/models/click.ts', clickModel(p, 2), async () => {
      const body = await get('/api/clicks');
      return body.fields.includes('c2') && body;
    }, 100);
    expect(edited.registered).toBe(true);
    expect(edited.kinds).toContain(`${p}Click`);
    // The base model edited: its discriminator is registered again on the new one.
    const rebased = await saveUntil(project, 'src/models/event.ts', eventModel(p, 2), async () => {
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
