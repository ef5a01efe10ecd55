import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { userModel } from './helpers/fixtures.ts';
import { Project, startVite, until } from './helpers/project.ts';

// Broken saves of every kind, alternating with good ones: the last good models keep serving,
// each failure is reported once, and the next good save takes over.
it('survives syntax errors, throwing bodies and invalid schemas between good saves', async () => {
  const p = 'Brk';
  const project = new Project('broken', { 'models/user.ts': userModel(p, 1) });
  const dev = await startVite(project);
  const fields = async () => Object.keys((await dev.load('models/user.ts')).User.schema.paths);
  const fails = async () => {
    try {
      await dev.load('models/user.ts');
      return false;
    } catch {
      return true;
    }
  };
  const broken = {
    syntax: userModel(p, 'x').replace('export const User', 'export const User = = ;\nconst'),
    throws: userModel(p, 'x').replace('export const User', `throw new Error('thrown by the model file');\nexport const User`),
    schema: userModel(p, 'x').replace('{ name: String, fx: String }', `{ name: { type: 'NotAType' } }`),
  };
  try {
    expect(await fields()).toContain('f1');
    let good = mongoose.model(`${p}User`);
    let version = 1;
    for (const [kind, source] of Object.entries(broken)) {
      await dev.edit('models/user.ts', source);
      await until(fails, 10_000, `the ${kind} save to fail`);
      expect(mongoose.model(`${p}User`), `after the ${kind} save`).toBe(good);
      expect(mongoose.connection.models[`${p}User`]).toBe(good);
      version++;
      await dev.edit('models/user.ts', userModel(p, version));
      await until(async () => (await fields()).includes(`f${version}`), 10_000, `f${version} after the ${kind} save`);
      expect(mongoose.model(`${p}User`)).not.toBe(good);
      good = mongoose.model(`${p}User`);
    }
    // The syntax error never evaluates (Vite reports it); the other two are ours to report, once each.
    expect(dev.logs.filter((line) => line.includes('threw while evaluating'))).toHaveLength(2);
    expect(await fields()).toEqual(['name', `f${version}`, '_id', '__v']);
  } finally {
    await dev.close();
    project.remove();
  }
});
