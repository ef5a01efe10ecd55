import { request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { ViteDevServer } from 'vite';
import { afterEach, describe, expect, it } from 'vitest';
import { userModel } from './helpers/fixtures.ts';
import { Project, until, type ViteName } from './helpers/project.ts';

// A Hono app on @hono/vite-dev-server, with the plugin order its docs show: `devServer({ entry })`
// first, then ours. Hono's middleware answers every request it does not exclude (with its 404), so
// our page must be registered before it, and still be behind Vite's DNS-rebinding check.

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A raw GET, so that the Host and Origin headers are exactly ours (fetch would set Host itself). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `localhost:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const vite of ['vite', 'vite6'] as const satisfies ViteName[]) {
  describe(`a Hono app on @hono/vite-dev-server (${vite}), devServer() listed before ormHmr()`, () => {
    let project: Project | undefined;
    let server: ViteDevServer | undefined;
    afterEach(async () => {
      await server?.close();
      project?.remove();
    });

    it('serves the ledger page and records.json, keeps Vite’s host check, and the app still answers', async () => {
      project = new Project(`hono-${vite}`, {
        'models/user.ts': userModel(`Hono${vite}`, 1),
        'src/index.ts': `import { Hono } from 'hono';
import { User } from '../models/user.ts';
const app = new Hono();
app.get('/api/fields', (c) => c.json(Object.keys(User.schema.paths)));
export default app;
`,
      });
      const { createServer } = (await import(vite)) as typeof import('vite');
      const { default: devServer } = await import('@hono/vite-dev-server');
      const { ormHmr } = await import('../dist/vite/index.js');
      const port = await freePort();
      server = await createServer({
        root: project.root,
        configFile: false,
        logLevel: 'silent',
        server: { host: '127.0.0.1', port, strictPort: true, ws: false, watch: { usePolling: false } } as object,
        plugins: [devServer({ entry: 'src/index.ts' }), ormHmr({ settleMs: 30 })],
      });
      await server.listen();

      // Hono serves its own routes...
      const fields = await until(async () => {
        const response = await get(port, '/api/fields');
        return response.status === 200 && (JSON.parse(response.body) as string[]);
      });
      expect(fields).toContain('f1');
      expect((await get(port, '/nowhere')).status).toBe(404);
      // ...and ours answer, not Hono's 404.
      const page = await get(port, '/__orm-hmr');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toContain('orm-hmr');
      const records = await get(port, '/__orm-hmr/records.json');
      expect(records.status).toBe(200);
      expect(Array.isArray(JSON.parse(records.body))).toBe(true);

      // A page registered first must not skip the protection Vite gives the rest of the server.
      const rebinding = await get(port, '/__orm-hmr/records.json', { host: 'attacker.example:80' });
      expect(rebinding.status).toBe(403);
      expect(rebinding.body).not.toContain('[');
      const foreign = await get(port, '/__orm-hmr/records.json', { origin: 'https://attacker.example' });
      expect(foreign.status).toBe(200);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
}
