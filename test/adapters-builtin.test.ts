import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinAdapter, builtinAdapterNames, loadBuiltinAdapter } from '../dist/adapters/builtin.js';

const dist = join(import.meta.dirname, '../dist');

describe('built-in adapters', () => {
  it.each(builtinAdapterNames)('%s: the packages listed up front are the adapter’s own, and it reports its registrations', (name) => {
    const adapter = loadBuiltinAdapter(name);
    expect(adapter.name).toBe(name);
    expect(builtinAdapter(name).packages).toEqual(adapter.packages);
    expect(adapter.reports).toBe(true);
    expect(typeof adapter.attached).toBe('function');
  });

  it('loads an adapter’s file only once a module importing its package is entered, and that adapter then works', () => {
    // A fresh process, as a dev server has: the runtime with every built-in adapter on.
    const script = `
      import { createRequire } from 'node:module';
      import mongoose from 'mongoose';
      const require = createRequire(${JSON.stringify(join(dist, 'index.js'))});
      const runtime = await import(${JSON.stringify(join(dist, 'runtime/index.js'))});
      const adapterFiles = () => Object.keys(require.cache).filter((file) => file.startsWith(${JSON.stringify(join(dist, 'adapters'))})).map((file) => file.slice(${JSON.stringify(dist.length + 1)}));
      runtime.configure({ root: '/app', settleMs: 5, logger: { info() {}, warn() {}, error() {} } });
      const before = adapterFiles();
      const evaluate = (field) => {
        const handle = runtime.enter('/app/models/user.ts', { imports: { mongoose } });
        mongoose.model('User', new mongoose.Schema({ [field]: String }));
        handle.commit();
      };
      evaluate('a');
      const after = adapterFiles();
      evaluate('b'); // without the adapter: OverwriteModelError
      await runtime.settled();
      console.log(JSON.stringify({ before, after, paths: Object.keys(mongoose.model('User').schema.paths) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname, encoding: 'utf8' });
    const { before, after, paths } = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(before).toEqual([]);
    expect(after).toEqual(['adapters/mongoose.js']);
    expect(paths).toContain('b');
    expect(paths).not.toContain('a');
  });
});
