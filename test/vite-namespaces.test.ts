import { cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { namespaceAt } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';

// In Vite's module runner every import is a round trip to the dev server (resolve, fetch) on each
// evaluation. The wrapped module imports no namespace of ours on every evaluation: the runtime
// hands back the one it got from the same resolved file, and a module imports it only when the
// runtime has none for that file (the first one, or a second copy of the package).

const model = (name: string, v: number) =>
  `import mongoose from 'mongoose';\nexport const M = mongoose.model('${name}', new mongoose.Schema({ f${v}: String }));\nexport const base = mongoose;\n`;

it('imports an ORM once per file it resolves to, and hooks each copy of it (a nested node_modules)', async () => {
  const project = new Project('namespaces', {
    'models/a.ts': model('NsA', 1),
    'packages/b/models/b.ts': model('NsB', 1),
  });
  // A second, separate copy of Mongoose, as a workspace package with its own node_modules has.
  const root = dirname(createRequire(import.meta.url).resolve('mongoose/package.json'));
  cpSync(root, project.path('packages/b/node_modules/mongoose'), { recursive: true });
  const dev = await startVite(project);
  try {
    const a = await dev.load('models/a.ts');
    const b = await dev.load('packages/b/models/b.ts');
    expect(a.base).toBe(mongoose);
    expect(b.base).not.toBe(mongoose);
    // The injected code asks the runtime first, by resolved file.
    const code = (await dev.server.environments.ssr.transformRequest('/models/a.ts'))!.code;
    expect(code).toContain('namespaceAt("');
    expect(code).not.toMatch(/__vite_ssr_import__\("[^"]*runtime/);
    const files = [...code.matchAll(/namespaceAt\("([^"]+)"\)/g)].map((m) => m[1]!);
    expect(files).toHaveLength(1);
    expect((namespaceAt(files[0]!) as { default?: unknown }).default).toBe(mongoose);
    // Three edits of each: both copies drop the previous model (no OverwriteModelError), the edit is live.
    for (let v = 2; v <= 4; v++) {
      await dev.edit('models/a.ts', model('NsA', v));
      await dev.edit('packages/b/models/b.ts', model('NsB', v));
      await until(async () => !!(await dev.load('models/a.ts')).M.schema.path(`f${v}`), 10_000, `a.ts version ${v}`);
      await until(async () => !!(await dev.load('packages/b/models/b.ts')).M.schema.path(`f${v}`), 10_000, `b.ts version ${v}`);
    }
    const b4 = await dev.load('packages/b/models/b.ts');
    expect(b4.base.modelNames()).toEqual(['NsB']);
    expect(b4.base.model('NsB')).toBe(b4.M);
    expect(mongoose.model('NsA')).toBe((await dev.load('models/a.ts')).M);
    expect(dev.logs.filter((line) => /threw|OverwriteModelError/.test(line))).toEqual([]);
  } finally {
    await dev.close();
    project.remove();
  }
});
