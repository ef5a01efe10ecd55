import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';

const model = (name: string) => `mongoose.model('${name}', new Schema({ n: String }))`;
const header = `import mongoose, { Schema } from 'mongoose';\n`;

it('drops the models of a deleted file', async () => {
  const project = new Project('files-delete', {
    'models/keep.ts': `${header}export const Keep = ${model('FdKeep')};\n`,
    'models/gone.ts': `${header}export const Gone = ${model('FdGone')};\n`,
  });
  const dev = await startVite(project);
  try {
    await dev.load('models/keep.ts');
    await dev.load('models/gone.ts');
    expect(mongoose.modelNames()).toEqual(expect.arrayContaining(['FdKeep', 'FdGone']));
    const { rmSync } = await import('node:fs');
    rmSync(project.path('models/gone.ts'));
    await until(() => !mongoose.modelNames().includes('FdGone'), 10_000, 'the deleted file to be unloaded');
    expect(mongoose.connection.models.FdGone).toBeUndefined();
    expect(mongoose.modelNames()).toContain('FdKeep');
    const record = await settled();
    expect(record?.files).toContain('models/gone.ts');
    expect(record?.purged).toContainEqual({ adapter: 'mongoose', name: 'FdGone' });
    // Whatever still holds the deleted file's last generation (Vite's module cache) is not counted.
    expect(record?.alive.FdGone).toBeUndefined();
    expect(record?.alive.FdKeep).toBe(1);
    expect(record?.generations['models/gone.ts']).toBeUndefined();
  } finally {
    await dev.close();
    project.remove();
  }
});

it('follows a model moved from one file to another', async () => {
  const project = new Project('files-move', {
    'models/a.ts': `${header}export const User = ${model('FmUser')};\nexport const Post = ${model('FmPost')};\n`,
    'models/b.ts': `${header}export const Tag = ${model('FmTag')};\n`,
    'app.ts': `import { Post } from './models/a.ts';\nimport { Tag } from './models/b.ts';\nexport const names = () => [Post.modelName, Tag.modelName];\n`,
  });
  const dev = await startVite(project);
  try {
    await dev.load('app.ts');
    // The user moves User from a.ts to b.ts: both files change, a.ts first (as the editor saves them).
    await dev.edit('models/a.ts', `${header}export const Post = ${model('FmPost')};\n`);
    await dev.edit('models/b.ts', `${header}export const Tag = ${model('FmTag')};\nexport const User = ${model('FmUser')};\n`);
    await until(async () => (await dev.load('app.ts')).names().length === 2 && (await dev.load('models/b.ts')).User);
    const { User } = await dev.load('models/b.ts');
    expect(mongoose.model('FmUser')).toBe(User);
    expect(dev.logs.some((line) => /registered by both/.test(line))).toBe(false);
  } finally {
    await dev.close();
    project.remove();
  }
});
