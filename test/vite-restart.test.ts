import mongoose from 'mongoose';
import { expect, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { userModel } from './helpers/fixtures.ts';
import { Project, startVite, until } from './helpers/project.ts';

it('numbers reloads per dev server across a restart, and says when old generations outlive it', async () => {
  const project = new Project('restart', { 'models/user.ts': userModel('Rs', 1) });
  const dev = await startVite(project);
  try {
    const fields = async () => Object.keys((await dev.load('models/user.ts')).User.schema.paths);
    await fields();
    // What SvelteKit 2 does by accident (it wraps globalThis.fetch on each dev start): keep a
    // reference to something of the old server, here the model itself.
    (globalThis as { heldAcrossRestart?: unknown }).heldAcrossRestart = mongoose.model('RsUser');
    await dev.edit('models/user.ts', userModel('Rs', 2));
    await until(async () => (await fields()).includes('f2'));
    await settled();
    expect(dev.logs.filter((line) => line.includes('reload #1'))).toHaveLength(1);

    await dev.server.restart();
    await dev.edit('models/user.ts', userModel('Rs', 3));
    await until(async () => (await fields()).includes('f3'));
    const record = await settled();
    expect(record?.reload).toBe(1);
    expect(record?.alive.RsUser).toBeGreaterThanOrEqual(2);
    expect(dev.logs.filter((line) => line.includes('reload #1'))).toHaveLength(2);
    expect(dev.logs.some((line) => /RsUser: \d of \d live generations come from before the dev server restarted/.test(line))).toBe(true);
  } finally {
    delete (globalThis as { heldAcrossRestart?: unknown }).heldAcrossRestart;
    await dev.close();
    project.remove();
  }
});
