import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { clickModel, eventModel, userModel } from './helpers/fixtures.ts';
import { ansi, Project, saveUntil, until } from './helpers/project.ts';
import { freePort } from './helpers/webpack.ts';

const nextBin = join(import.meta.dirname, '../node_modules/next/dist/bin/next');
const withOrmHmr = join(import.meta.dirname, '../dist/next/index.js');

/** A small App Router app: route handlers using Mongoose models on the real database. */
function files(p: string): Record<string, string> {
  const connect = `if (mongoose.connection.readyState === 0) await mongoose.connect(process.env.MONGODB_URI);`;
  return {
    // No "type": Turbopack refuses `import` in files of a "commonjs" package.
    'package.json': JSON.stringify({ name: 'next-fixture', private: true }),
    'next.config.mjs': `import { withOrmHmr } from ${JSON.stringify(withOrmHmr)};\nexport default withOrmHmr({}, { report: 'orm-hmr.jsonl' });\n`,
    'app/layout.js': `export default function RootLayout({ children }) {\n  return <html><body>{children}</body></html>;\n}\n`,
    'app/api/users/route.js': `import mongoose from 'mongoose';
import { User } from '../../../models/user.ts';
export const dynamic = 'force-dynamic';
export async function GET() {
  ${connect}
  const user = await User.create({ name: 'ada', f3: 'three' });
  return Response.json({ fields: Object.keys(User.schema.paths), byName: Object.keys(mongoose.model('${p}User').schema.paths), f3: user.f3 ?? null });
}
`,
    'app/api/clicks/route.js': `import mongoose from 'mongoose';
import { Click } from '../../../models/click.ts';
import { Event } from '../../../models/event.ts';
export const dynamic = 'force-dynamic';
export async function GET() {
  ${connect}
  await Click.create({ x: 1 });
  return Response.json({ fields: Object.keys(Click.schema.paths), registered: Event.discriminators['${p}Click'] === Click, kinds: (await Event.find().lean()).map((e) => e.kind) });
}
`,
    // JavaScript in .ts files, so Next does not set up TypeScript (which would install packages).
    'models/user.ts': userModel(p, 1),
    'models/event.ts': eventModel(p, 1),
    'models/click.ts': clickModel(p, 1),
  };
}

describe.each([
  ['webpack', ['--webpack']],
  ['Turbopack', []],
] as const)('Next.js 16 dev server (%s)', (bundler, flags) => {
  const p = `Nx${bundler === 'webpack' ? 'W' : 'T'}`;
  const project = new Project(`next-${bundler}`, files(p));
  let child: ChildProcess | undefined;
  const output: string[] = [];
  afterAll(async () => {
    if (child?.pid) process.kill(-child.pid, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    project.remove();
  });

  it('applies 20 model edits on the next request, with one generation besides the first', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [nextBin, 'dev', ...flags, '--port', String(port), '--hostname', '127.0.0.1'], {
      cwd: project.root,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', MONGODB_URI: inject('mongoUri'), NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
    child.stderr!.on('data', (chunk) => output.push(String(chunk).replace(ansi, '')));
    const get = async (path: string): Promise<any> => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).slice(0, 500)}`);
      return response.json();
    };
    const first = await until(() => get('/api/users'), 90_000, `next dev to answer\n${output.join('')}`);
    expect(first.fields).toContain('f1');
    for (let version = 2; version <= 21; version++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const body = await saveUntil(project, 'models/user.ts', userModel(p, version), async () => {
        const body = await get('/api/users');
        return body.fields.includes(`f${version}`) && body;
      }, 200);
      expect(body.byName).toContain(`f${version}`);
      expect(body.fields).not.toContain(`f${version - 1}`);
      if (version === 3) expect(body.f3).toBe('three');
    }
    const clicks = await get('/api/clicks');
    expect(clicks.registered).toBe(true);
    const edited = await saveUntil(project, 'models/click.ts', clickModel(p, 2), async () => {
      const body = await get('/api/clicks');
      return body.fields.includes('c2') && body;
    }, 200);
    expect(edited.registered).toBe(true);
    expect(edited.kinds).toContain(`${p}Click`);

    const text = output.join('');
    expect(text).not.toMatch(/OverwriteModelError|Cannot overwrite/);
    expect(text).toMatch(new RegExp(`\\[orm-hmr\\] reload #\\d+ .*models/user\\.ts.* · purged mongoose:${p}User`));
    await until(() => readFileSync(project.path('orm-hmr.jsonl'), 'utf8').includes(`"${p}Click"`), 10_000, 'the report');
    const records = readFileSync(project.path('orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const users = records.filter((r) => r.purged.some((x: { name: string }) => x.name === `${p}User`)).map((r) => r.alive[`${p}User`]);
    expect(users.length).toBeGreaterThanOrEqual(5);
    // Next keeps its first server bundle (and the first generation with it) for the life of the
    // process, and a request still running may hold the one before the edit for a moment; every
    // other generation must go: the count stays flat, and is back to 2 once things are quiet.
    expect(Math.max(...users), `alive after each reload: ${users.join(', ')}`).toBeLessThanOrEqual(3);
    expect(records.at(-1).alive[`${p}User`], `alive after each reload: ${users.join(', ')}`).toBeLessThanOrEqual(2);
  });
});
