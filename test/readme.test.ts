import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';

/** README code blocks whose first line is `// path`, by path: the examples, exactly as documented. */
function readmeFiles(): Record<string, string> {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const files: Record<string, string> = {};
  for (const [, code] of readme.matchAll(/```ts\n(\/\/ [^\n]+\n[\s\S]*?)```/g)) {
    const [first, ...rest] = code!.split('\n');
    files[first!.slice(3).trim()] = rest.join('\n');
  }
  return files;
}

const files = readmeFiles();
const project = new Project('readme', {
  'src/bus.ts': files['src/bus.ts']!.replace("from 'orm-hmr'", `from ${JSON.stringify(join(import.meta.dirname, '../dist/index.js'))}`).replace(
    "from 'orm-hmr/runtime'",
    `from ${JSON.stringify(join(import.meta.dirname, '../dist/runtime/index.js'))}`,
  ),
  'src/listeners/welcome.ts': files['src/listeners/welcome.ts']!,
  'src/main.ts': `import { emit } from './bus.ts';\nimport './listeners/welcome.ts';\nexport { emit };\n`,
});
afterAll(() => project.remove());

it('runs the custom adapter example from the README', async () => {
  expect(Object.keys(files)).toEqual(expect.arrayContaining(['src/bus.ts', 'src/listeners/welcome.ts', 'vite.config.ts']));
  expect(files['vite.config.ts']).toContain(`ormHmr({ include: ['src/listeners/**'] })`);
  const dev = await startVite(project, { options: { include: ['src/listeners/**'] } });
  try {
    const emit = async () => (await dev.load<{ emit: (e: string, p: unknown) => string[] }>('src/main.ts')).emit('signup', 'Ada');
    expect(await emit()).toEqual(['welcome, Ada']);
    for (const greeting of ['hello', 'hi', 'hey']) {
      await dev.edit('src/listeners/welcome.ts', files['src/listeners/welcome.ts']!.replace('welcome', greeting));
      await until(async () => (await emit())[0] === `${greeting}, Ada`);
      expect(await emit()).toEqual([`${greeting}, Ada`]);
    }
    const record = await settled();
    expect(record?.purged).toContainEqual({ adapter: 'bus', name: 'signup' });
    await dev.edit('src/listeners/welcome.ts', `import { on } from '../bus.ts';\non('signup', () => 'broken');\nthrow new Error('bad save');\n`);
    await until(async () => {
      try {
        await emit();
        return false;
      } catch {
        return true;
      }
    });
    // The module graph re-evaluates on each load and fails; the registry still holds the last good handler.
    const { handlers } = await dev.load<{ handlers: Map<string, Set<(name: string) => string>> }>('src/bus.ts');
    expect([...handlers.get('signup')!].map((handler) => handler('Ada'))).toEqual(['hey, Ada']);
  } finally {
    await dev.close();
  }
});
