import mongoose from 'mongoose';
import { afterEach, describe, expect, it } from 'vitest';
import { userModel } from './helpers/fixtures.ts';
import { Project, startVite, until, type Dev } from './helpers/project.ts';
import { countAlive } from './helpers/scenarios.ts';

// The module runner with `import.meta.hot.accept()` boundaries: only the accepting module and what
// changed below it re-evaluate; nothing else does.
describe.each(['vite', 'vite7', 'vite6'] as const)('%s module runner with accept boundaries', (vite) => {
  let project: Project;
  let dev: Dev;
  afterEach(async () => {
    await dev?.close();
    project?.remove();
  });

  it('reloads a model below a self-accepting entry', async () => {
    const p = `Acc${vite}`;
    project = new Project('accept', {
      'models/user.ts': userModel(p, 1),
      'app.ts': `import { User } from './models/user.ts';\nexport const current = () => User;\nif (import.meta.hot) import.meta.hot.accept();\n`,
    });
    dev = await startVite(project, { vite, mode: 'runner' });
    const refs: WeakRef<object>[] = [];
    const check = async (version: number) => {
      const User = await until(async () => {
        const app = await dev.load<{ current: () => mongoose.Model<unknown> }>('app.ts');
        const User = app.current();
        return User.schema.path(`f${version}`) !== undefined && User;
      });
      expect(mongoose.model(`${p}User`)).toBe(User);
      refs.push(new WeakRef(User));
    };
    await check(1);
    for (let version = 2; version <= 10; version++) {
      await dev.edit('models/user.ts', userModel(p, version));
      await check(version);
    }
    expect(await countAlive(refs)).toBe(1);
  });

  it('reloads a self-accepting model file', async () => {
    const p = `Self${vite}`;
    const model = (v: number) => userModel(p, v) + `if (import.meta.hot) import.meta.hot.accept();\n`;
    project = new Project('accept-self', { 'models/user.ts': model(1) });
    dev = await startVite(project, { vite, mode: 'runner' });
    await dev.load('models/user.ts');
    for (let version = 2; version <= 5; version++) {
      await dev.edit('models/user.ts', model(version));
      await until(() => mongoose.models[`${p}User`]?.schema.path(`f${version}`) !== undefined);
    }
    expect(Object.keys(mongoose.models[`${p}User`]!.schema.paths)).not.toContain('f4');
  });
});
