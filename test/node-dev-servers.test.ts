// `orm-hmr dev` on the other servers it supports (Koa 3, Hono, node:http on two addresses), the
// README's example, tsconfig paths and decorators, and a project without Vite.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort, get, startNodeDev, type NodeDev } from './helpers/node-dev.ts';
import { Project, saveUntil, until } from './helpers/project.ts';

const projects: Project[] = [];
afterAll(() => projects.forEach((project) => project.remove()));

/** An HTTP upgrade request: the X-Message header of the 101 answer. */
function upgrade(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, headers: { connection: 'Upgrade', upgrade: 'test' } });
    request.once('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.headers['x-message'] as string | undefined);
    });
    request.once('error', reject);
    request.end();
  });
}

/** README code blocks whose first line is \`// path\`, by path. */
function readmeFiles(): Record<string, string> {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const files: Record<string, string> = {};
  for (const [, code] of readme.matchAll(/```ts\n(\/\/ [^\n]+\n[\s\S]*?)```/g)) {
    const [first, ...rest] = code!.split('\n');
    files[first!.slice(3).trim()] = rest.join('\n');
  }
  return files;
}

/** The same server on every framework the command supports, with no database: one edit each. */
const servers = {
  koa: `import Koa from 'koa';
import { message } from './message.ts';
const app = new Koa();
app.use((ctx) => { ctx.body = message; });
app.listen(Number(process.env.PORT), '127.0.0.1');
`,
  hono: `import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { message } from './message.ts';
const app = new Hono();
app.get('/', (c) => c.text(message));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
`,
  // Two addresses on one port, as Fastify binds 'localhost' where it resolves to 127.0.0.1 and ::1.
  'node:http on two addresses': `import http from 'node:http';
import { message } from './message.ts';
for (const host of ['127.0.0.1', '::1']) {
  const server = http
    .createServer((req, res) => (req.url === '/slow' ? setTimeout(() => res.end('slow ' + message), 600) : res.end(message)))
    .listen(Number(process.env.PORT), host);
  // Added after listen(), as a WebSocket server attaching to it does.
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: test\\r\\nConnection: Upgrade\\r\\nX-Message: ' + message + '\\r\\n\\r\\n'));
}
`,
};

describe.each(Object.keys(servers) as (keyof typeof servers)[])('orm-hmr dev keeps the listening server: %s', (name) => {
  it('serves the edit on the same socket', async () => {
    const project = new Project(`node-dev-${name.replace(/\W+/g, '-')}`, {
      'package.json': JSON.stringify({ type: 'module', private: true }),
      'message.ts': `export const message: string = 'v0';\n`,
      'server.ts': servers[name],
    });
    projects.push(project);
    const port = await freePort();
    // Koa's run serves the ledger page on the app's own port.
    const dev: NodeDev = startNodeDev(project, [name === 'koa' ? '--page=app' : '--page=off', 'server.ts'], { PORT: String(port) });
    const hosts = name.includes('two addresses') ? ['127.0.0.1', '[::1]'] : ['127.0.0.1'];
    const text = async (host: string) => (await fetch(`http://${host}:${port}/`)).text();
    try {
      for (const host of hosts) await until(async () => (await text(host)) === 'v0', 30_000, `the app on ${host}`);
      for (const v of [1, 2]) {
        await saveUntil(project, 'message.ts', `export const message: string = 'v${v}';\n`, async () => {
          for (const host of hosts) if ((await text(host)) !== `v${v}`) return false;
          return true;
        });
      }
      expect(dev.output()).not.toMatch(/EADDRINUSE|restarting/);
      const page = await fetch(`http://127.0.0.1:${port}/__orm-hmr/records.json`);
      if (name === 'koa') {
        // An editor that truncates the file before writing it: the empty file is never evaluated.
        project.write('message.ts', '');
        await until(() => dev.output().includes('message.ts is empty'), 10_000, 'the empty save to be seen');
        expect(await text('127.0.0.1')).toBe('v2');
        await saveUntil(project, 'message.ts', `export const message: string = 'v2';\n`, () => dev.output().split('is empty')[1]?.includes('reloaded message.ts'));
        expect(await text('127.0.0.1')).toBe('v2');
      }
      // Elsewhere the app answers that path itself.
      if (name === 'koa') expect(Array.isArray(await page.json())).toBe(true);
      else expect(await page.text()).not.toMatch(/^\[/);
      if (name.includes('node:http')) {
        // A request in flight during a reload finishes on the code that received it.
        const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then((response) => response.text());
        await new Promise((resolve) => setTimeout(resolve, 100));
        await saveUntil(project, 'message.ts', `export const message: string = 'v3';\n`, async () => (await text('127.0.0.1')) === 'v3');
        expect(await inFlight).toBe('slow v2');
        expect(await (await fetch(`http://127.0.0.1:${port}/slow`)).text()).toBe('slow v3');
        // Upgrades reach the latest generation's listener, added after listen().
        expect(await upgrade(port)).toBe('v3');
        // rs + enter restarts the process, saying why.
        dev.child.stdin!.write('rs\n');
        await until(() => dev.output().includes('restarting: rs'), 10_000, 'the restart');
        await until(async () => (await text('127.0.0.1')) === 'v3', 30_000, 'the restarted app');
      }
    } finally {
      await dev.stop();
    }
  });
});

it('says how to install Vite when it is missing, and exits', async () => {
  const project = new Project('node-dev-no-vite', {
    'package.json': JSON.stringify({ type: 'module', private: true }),
    'server.ts': `console.log('never runs');\n`,
    // Node resolves 'vite' for nobody in this process, as in a project that never installed it.
    'hide-vite.mjs': `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(specifier, context, next) {
  if (specifier === 'vite') throw Object.assign(new Error("Cannot find package 'vite'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}\`));
`,
  });
  projects.push(project);
  const dev = startNodeDev(project, ['--import=./hide-vite.mjs', 'server.ts']);
  expect(await dev.exited).toBe(1);
  expect(dev.output()).toContain('npm install --save-dev vite');
  expect(dev.output()).not.toContain('never runs');
});

it("runs the README's example: an Express app with a model, edited", async () => {
  const readme = readmeFiles();
  const project = new Project('node-dev-readme', {
    'package.json': JSON.stringify({ type: 'module', private: true, scripts: { dev: 'orm-hmr dev src/server.ts' } }),
    'src/server.ts': readme['src/server.ts']!,
    'src/models/user.ts': readme['src/models/user.ts']!,
  });
  projects.push(project);
  const port = await freePort();
  const dev = startNodeDev(project, ['src/server.ts'], { PORT: String(port), MONGODB_URI: inject('mongoUri') });
  try {
    await until(async () => (await get(port, '/users')).status === 200, 30_000, 'the app to answer');
    const edited = readme['src/models/user.ts']!.replace('email: String', 'email: String, age: Number');
    expect(edited).not.toBe(readme['src/models/user.ts']);
    await saveUntil(project, 'src/models/user.ts', edited, () => /reload #1 [^\n]*src\/models\/user\.ts[^\n]*alive User 1/.test(dev.output()));
    expect((await get(port, '/users')).status).toBe(200);
    expect(dev.output()).toMatch(/reloaded src\/models\/user\.ts/);
    expect(dev.output()).not.toMatch(/OverwriteModelError|restarting/);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- orm-hmr dev said:\n${dev.output()}`);
  } finally {
    await dev.stop();
  }
});

it('resolves tsconfig paths, compiles legacy decorators, loads --config and passes the app its arguments', async () => {
  const server = (v: string) => `import http from 'node:http';
import { message } from '@lib/message';
import { suffix } from '#suffix';

const fields: unknown[] = [];
// A legacy property decorator gets (prototype, key); a standard one would get (undefined, context).
function field(_target: object, key: string) {
  fields.push(key);
}
class User {
  @field name!: string;
}
void User;

http
  .createServer((_req, res) => res.end(JSON.stringify({ message: message + suffix, fields, args: process.argv.slice(2), v: ${JSON.stringify(v)} })))
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
  const project = new Project('node-dev-tsconfig', {
    'package.json': JSON.stringify({ type: 'module', private: true }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { experimentalDecorators: true, emitDecoratorMetadata: true, paths: { '@lib/*': ['./lib/*'] } } }),
    'vite.config.ts': `export default { resolve: { alias: { '#suffix': new URL('./suffix.ts', import.meta.url).pathname } } };\n`,
    'suffix.ts': `export const suffix = '!';\n`,
    'lib/message.ts': `export const message = 'from lib';\n`,
    'server.ts': server('1'),
  });
  projects.push(project);
  const port = await freePort();
  const dev = startNodeDev(project, ['--page=off', '--config', 'vite.config.ts', 'server.ts', '--', '--flag', 'value'], { PORT: String(port) });
  const body = async () => JSON.parse((await get(port, '/')).body);
  try {
    await until(async () => (await body()).v === '1', 30_000, 'the app to answer');
    expect(await body()).toEqual({ message: 'from lib!', fields: ['name'], args: ['--flag', 'value'], v: '1' });
    await saveUntil(project, 'lib/message.ts', `export const message = 'edited';\n`, async () => (await body()).message === 'edited!');
    await saveUntil(project, 'server.ts', server('2'), async () => (await body()).v === '2');
    expect((await body()).fields).toEqual(['name']);
  } finally {
    await dev.stop();
  }
});
