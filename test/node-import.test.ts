// `node --import orm-hmr/node`: the transform applied by Node's module hooks, for tools that
// reload a file by importing it again under a new query (hot-hook, dynohot). Edits apply without
// OverwriteModelError; every version stays in memory (Node never frees an ES module), and the
// ledger says so.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Project } from './helpers/project.ts';

const dist = join(import.meta.dirname, '..', 'dist');
const project = new Project('node-import', {
  'package.json': JSON.stringify({ type: 'module', private: true }),
  'main.mjs': `import { writeFileSync } from 'node:fs';
import mongoose from 'mongoose';
import { settled } from ${JSON.stringify(join(dist, 'runtime', 'index.js'))};

const model = (v) => \`import mongoose, { Schema } from 'mongoose';
export const lookup = Array.from({ length: 2000 }, (_, i) => ({ i }));
export const User = mongoose.model('User', new Schema({ name: String, f\${v}: String }));
\`;
const applied = [];
const records = [];
for (let v = 1; v <= 5; v++) {
  writeFileSync(new URL('./user.mjs', import.meta.url), model(v));
  // What hot-hook does on a save: the same file under a new query.
  const { User } = await import('./user.mjs?version=' + v);
  applied.push(User.schema.paths['f' + v] !== undefined && mongoose.model('User') === User);
  records.push(await settled());
}
console.log(JSON.stringify({ applied, alive: records.map((r) => r?.alive.User), warnings: records.flatMap((r) => r?.warnings ?? []).map((w) => w.kind) }));
`,
});
afterAll(() => project.remove());

it('wraps the modules Node loads: edits apply; the ledger counts the versions Node keeps', () => {
  const run = spawnSync(process.execPath, ['--import', join(dist, 'node', 'register.js'), 'main.mjs'], {
    cwd: project.root,
    encoding: 'utf8',
    env: { ...process.env, ORM_HMR_MEMORY_LINE: '0' },
  });
  expect(run.stderr).not.toContain('OverwriteModelError');
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  expect(result.applied).toEqual([true, true, true, true, true]);
  // Every version is alive: Node never frees an ES module, whatever orm-hmr purges.
  expect(result.alive.at(-1)).toBe(5);
  expect(result.warnings).toContain('generations');
});
