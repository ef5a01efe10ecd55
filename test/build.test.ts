import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { ormHmr } from '../dist/vite/index.js';
import { userModel } from './helpers/fixtures.ts';
import { Project, startVite } from './helpers/project.ts';

const files = {
  'index.html': `<script type="module" src="/client.ts"></script>`,
  'client.ts': `import { kind } from './shared.ts';\ndocument.title = kind;\n`,
  'shared.ts': `export const kind = 'shared';\n`,
  'models/user.ts': userModel('Build', 1),
  'server.ts': `import { User } from './models/user.ts';\nexport const name = User.modelName;\n`,
};

function readAll(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8'))
    .join('\n');
}

describe('production and client code', () => {
  const project = new Project('build', files);
  afterAll(() => project.remove());

  it('adds nothing to `vite build` output, client or SSR', async () => {
    const common = { root: project.root, configFile: false as const, logLevel: 'silent' as const, plugins: [ormHmr()] };
    await build({ ...common, build: { outDir: 'dist/client', minify: false } });
    await build({ ...common, build: { outDir: 'dist/server', ssr: 'server.ts', minify: false, rollupOptions: { external: ['mongoose'] } } });
    const client = readAll(project.path('dist/client'));
    const server = readAll(project.path('dist/server'));
    expect(server).toContain('BuildUser'); // the model really is in the SSR bundle
    for (const output of [client, server]) {
      expect(output).not.toMatch(/__orm_hmr|orm-hmr|enter\(/);
    }
  });

  it('wraps a model module for the server environment only', async () => {
    const dev = await startVite(project);
    try {
      const ssr = await dev.server.environments.ssr.transformRequest('/models/user.ts');
      const client = await dev.server.environments.client.transformRequest('/models/user.ts');
      expect(ssr?.code).toContain('__orm_hmr__.commit(() => __orm_hmr__)');
      expect(client?.code).not.toContain('__orm_hmr');
      const plain = await dev.server.environments.ssr.transformRequest('/shared.ts');
      expect(plain?.code).not.toContain('__orm_hmr');
    } finally {
      await dev.close();
    }
  });
});
