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

// Astro 5's dev server runs a module that threw again on every request (Vite alone keeps the
// error; the framework invalidates the module to retry it, as here). One broken save is one reload
// batch, however often the unchanged file is run again: one record, one line, no GC per request.
it('counts a broken save once, however often the unchanged failing file is run again', async () => {
  const p = 'Rerun';
  const project = new Project('rerun', { 'models/user.ts': userModel(p, 1) });
  const dev = await startVite(project, { options: { report: 'reports/orm-hmr.jsonl' } });
  const { settled } = await import('../dist/runtime/index.js');
  const records = () => (project.exists('reports/orm-hmr.jsonl') ? project.read('reports/orm-hmr.jsonl').trim().split('\n').map((line) => JSON.parse(line)) : []);
  try {
    await dev.load('models/user.ts');
    // Each request: run the module; when it throws, invalidate it so the next request runs it again.
    const request = () =>
      dev.load('models/user.ts').catch((error: Error) => {
        for (const mod of dev.server.moduleGraph.getModulesByFile(project.path('models/user.ts')) ?? []) dev.server.moduleGraph.invalidateModule(mod);
        return error;
      });
    const fails = async () => (await request()) instanceof Error;
    await dev.edit('models/user.ts', userModel(p, 2).replace('export const User', `throw new Error('broken');\nexport const User`));
    await until(fails, 10_000, 'the broken save to fail');
    // A page polled for a few seconds, as Astro's dev server runs the module on each request.
    for (let i = 0; i < 40; i++) {
      expect(String(await request())).toContain('broken');
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await settled();
    const failed = records().filter((record) => record.failed.length > 0);
    expect(failed).toHaveLength(1);
    expect(dev.logs.filter((line) => line.includes('threw while evaluating'))).toHaveLength(1);
    expect(dev.logs.filter((line) => line.includes('reload #'))).toHaveLength(1);

    // A second broken save, with other code, is a new batch; the fix is one more.
    await dev.edit('models/user.ts', userModel(p, 3).replace('export const User', `throw new Error('broken again');\nexport const User`));
    await until(async () => String(await request()).includes('broken again'));
    for (let i = 0; i < 5; i++) expect(String(await request())).toContain('broken again');
    await settled();
    await dev.edit('models/user.ts', userModel(p, 4));
    await until(async () => Object.keys((await dev.load('models/user.ts')).User.schema.paths).includes('f4'));
    await settled();
    expect(records().map((record) => record.failed.length > 0)).toEqual([true, true, false]);
  } finally {
    await dev.close();
    project.remove();
  }
});
