import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { catSchema, ownerModel, startNestApp, type NestDev } from './helpers/nest-app.ts';
import { until } from './helpers/project.ts';

// A real NestJS 12 app (test/nest-app) under the Nest CLI, with NestJS's HMR recipe
// (hot/poll?100, module.hot.accept(), dispose(() => app.close()), RunScriptWebpackPlugin) plus
// `new OrmHmrPlugin()`: Mongoose models through @nestjs/mongoose and a plain module-scope model.
// Each save is a rebuild of the whole app module graph (the entry accepts itself), seconds on CI.
describe.each(['rspack', 'webpack'] as const)('NestJS 12, nest build --builder %s --watch', (builder) => {
  let dev: NestDev | undefined;
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
  });

  it('applies every edit of a module-scope model and of a @nestjs/mongoose schema, with one generation alive', async () => {
    dev = await startNestApp(builder, { MONGODB_URI: inject('mongoUri'), ORM_HMR_REPORT: 'orm-hmr.jsonl' });
    const { pid } = await dev.get('/health');
    expect((await dev.get('/fields')).owner).toEqual(expect.arrayContaining(['name']));
    for (let v = 1; v <= 3; v++) {
      await dev.edit('src/owners/owner.model.ts', ownerModel(`o${v}`), async () => (await dev!.get('/fields')).owner.includes(`o${v}`));
      await dev.edit('src/cats/schemas/cat.schema.ts', catSchema(`c${v}`), async () => (await dev!.get('/fields')).cat.includes(`c${v}`));
      const fields = await dev.get('/fields');
      expect(fields.owner).not.toContain(`o${v - 1}`);
      expect(fields.cat).not.toContain(`c${v - 1}`);
    }
    // The database sees the new schemas.
    expect((await dev.post('/owners', { name: 'Ada', o3: 'three', o2: 'dropped' })).o3).toBe('three');
    const cat = await dev.post('/cats', { name: 'Tom', c3: 'three' });
    expect(cat.c3).toBe('three');
    expect((await dev.get('/health')).pid).toBe(pid); // patched in place, never restarted

    const text = () => dev!.output.join('');
    await until(() => /\[orm-hmr\] reload #\d+ .*owner\.model\.ts/.test(text()), 10_000, 'the memory line');
    expect(text()).toMatch(/purged mongoose:Owner/);
    expect(text()).not.toMatch(/OverwriteModelError|Cannot overwrite|restart the application|Update failed/);
    const records = await until(() => {
      const lines = readFileSync(dev!.project.path('orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      // The newest record counted after a GC (one a newer reload ended while it waited has no counts after GC).
      return lines.some((r) => r.files.includes('src/owners/owner.model.ts')) && lines.at(-1).gc && lines;
    }, 10_000, 'the report');
    const last = records.at(-1);
    expect(last.alive.Owner).toBe(1);
    expect(last.verdict).not.toBe('leak');
  }, 300_000); // a first build with the type checker takes 30 s on a loaded 2-core machine
});
