import mongoose from 'mongoose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getGc } from '../../dist/ledger/gc.js';
import { settled } from '../../dist/runtime/index.js';
import { clickModel, eventModel, postModel, userModel } from './fixtures.ts';
import { Project, startVite, until, type Dev, type LoadMode, type ViteName } from './project.ts';

/** Counts how many of `refs` survive full GCs, settling between rounds (WeakRef targets live to the end of a job). */
export async function countAlive(refs: WeakRef<object>[]): Promise<number> {
  const gc = getGc()!;
  let alive = refs.length;
  for (let round = 0; round < 6; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    alive = refs.filter((ref) => ref.deref() !== undefined).length;
    if (alive <= 1) break;
  }
  return alive;
}

let counter = 0;

/**
 * The core behaviours, against one Vite version and one way of loading modules. `connected`:
 * whether Mongoose is connected to the real database while models reload.
 */
export function reloadScenarios({ vite, mode, connected, uri }: { vite: ViteName; mode: LoadMode; connected: boolean; uri: () => string }) {
  describe(`${vite} ${mode} ${connected ? 'connected' : 'not connected'}`, () => {
    let project: Project;
    let dev: Dev;
    let p: string;

    beforeAll(async () => {
      if (connected && mongoose.connection.readyState !== 1) await mongoose.connect(uri());
    });
    afterEach(async () => {
      await dev?.close();
      project?.remove();
    });
    afterAll(async () => {
      if (connected) await mongoose.disconnect();
    });

    async function open(files: Record<string, string>, options = {}) {
      p = `T${++counter}${mode === 'runner' ? 'r' : 's'}`;
      project = new Project(`${vite}-${mode}`, typeof files === 'function' ? (files as (p: string) => Record<string, string>)(p) : files);
      dev = await startVite(project, { vite, mode, options });
    }
    const fields = (model: { schema: { paths: Record<string, unknown> } }) => Object.keys(model.schema.paths);

    it('uses the edited schema after each edit, and name lookups return it', async () => {
      await open(((prefix: string) => ({ 'models/user.ts': userModel(prefix, 1), 'models/post.ts': postModel(prefix) })) as never);
      let { User } = await dev.load('models/user.ts');
      expect(fields(User)).toContain('f1');
      const { Post } = await dev.load('models/post.ts');
      for (let version = 2; version <= 4; version++) {
        await dev.edit('models/user.ts', userModel(p, version));
        User = await until(async () => {
          const { User } = await dev.load('models/user.ts');
          return fields(User).includes(`f${version}`) && User;
        }, 10_000, `f${version}`);
        expect(fields(User)).not.toContain(`f${version - 1}`);
        expect(User.version()).toBe(String(version));
        expect(mongoose.model(`${p}User`)).toBe(User);
        expect(mongoose.connection.models[`${p}User`]).toBe(User);
        expect(mongoose.connection.model(`${p}User`)).toBe(User);
      }
      if (connected) {
        const user = await User.create({ name: 'ada', f4: 'kept by the new schema', f1: 'dropped by strict mode' });
        const found = await User.findById(user._id).lean();
        expect(found.f4).toBe('kept by the new schema');
        expect(found.f1).toBeUndefined();
        await Post.create({ title: 'hello', author: user._id });
        const post = await Post.findOne({ author: user._id }).populate('author');
        expect(post.author).toBeInstanceOf(User);
        expect(post.author.toJSON().version).toBe('4');
      }
    });

    it('reloads discriminators and their base model', async () => {
      await open(((prefix: string) => ({ 'models/event.ts': eventModel(prefix, 1), 'models/click.ts': clickModel(prefix, 1) })) as never);
      let { Click } = await dev.load('models/click.ts');
      let { Event } = await dev.load('models/event.ts');
      expect(Event.discriminators[`${p}Click`]).toBe(Click);

      await dev.edit('models/click.ts', clickModel(p, 2));
      Click = await until(async () => {
        const { Click } = await dev.load('models/click.ts');
        return fields(Click).includes('c2') && Click;
      });
      ({ Event } = await dev.load('models/event.ts'));
      expect(Event.discriminators[`${p}Click`]).toBe(Click);
      expect(Event.schema.discriminators[`${p}Click`]).toBe(Click.schema);
      expect(mongoose.connection.models[`${p}Click`]).toBe(Click);

      await dev.edit('models/event.ts', eventModel(p, 2));
      Click = await until(async () => {
        const { Click } = await dev.load('models/click.ts');
        return fields(Click).includes('e2') && Click;
      });
      ({ Event } = await dev.load('models/event.ts'));
      expect(fields(Event)).toContain('e2');
      expect(fields(Event)).not.toContain('e1');
      expect(Event.discriminators[`${p}Click`]).toBe(Click);
      expect(Object.getPrototypeOf(Click.prototype)).toBe(Event.prototype);
      expect(mongoose.model(`${p}Event`)).toBe(Event);
      if (connected) {
        await Click.create({ x: 3, c2: 'c', e2: 'e' });
        const events = await Event.find({ x: 3 });
        expect(events).toHaveLength(1);
        expect(events[0]).toBeInstanceOf(Click);
        expect(events[0].kind).toBe(`${p}Click`);
      }
    });

    it('drops models removed or renamed in the file', async () => {
      const pair = (prefix: string, names: string[]) =>
        `import mongoose, { Schema } from 'mongoose';\n` +
        names.map((n) => `export const ${n} = mongoose.model('${prefix}${n}', new Schema({ n: String }));`).join('\n');
      await open(((prefix: string) => ({ 'models/pair.ts': pair(prefix, ['Alpha', 'Beta']) })) as never);
      await dev.load('models/pair.ts');
      expect(mongoose.modelNames()).toEqual(expect.arrayContaining([`${p}Alpha`, `${p}Beta`]));
      await dev.edit('models/pair.ts', pair(p, ['Alpha', 'Gamma']));
      await until(async () => 'Gamma' in (await dev.load('models/pair.ts')));
      expect(mongoose.modelNames()).toEqual(expect.arrayContaining([`${p}Alpha`, `${p}Gamma`]));
      expect(mongoose.modelNames()).not.toContain(`${p}Beta`);
      expect(mongoose.connection.models[`${p}Beta`]).toBeUndefined();
    });

    it('warns, naming both files, when two files register one model name', async () => {
      const dup = (prefix: string) => `import mongoose, { Schema } from 'mongoose';\nexport const Dup = mongoose.model('${prefix}Dup', new Schema({ n: String }));\n`;
      await open(((prefix: string) => ({ 'models/dup-a.ts': dup(prefix), 'models/dup-b.ts': dup(prefix) })) as never);
      const { Dup } = await dev.load('models/dup-a.ts');
      await expect(dev.load('models/dup-b.ts')).rejects.toThrow(/overwrite/i);
      const warning = dev.logs.find((line) => line.includes(`"${p}Dup"`));
      expect(warning).toMatch(/models\/dup-a\.ts/);
      expect(warning).toMatch(/models\/dup-b\.ts/);
      // The first file keeps its model.
      expect(mongoose.model(`${p}Dup`)).toBe(Dup);
    });

    it('puts the previous generation back when an edit throws, then recovers', async () => {
      await open(((prefix: string) => ({ 'models/user.ts': userModel(prefix, 1) })) as never);
      const { User } = await dev.load('models/user.ts');
      const broken = userModel(p, 2).replace('export const lookup', `mongoose.model('${p}Orphan', new Schema({ o: String }));\nthrow new Error('boom in the model file');\nexport const lookup`);
      await dev.edit('models/user.ts', broken);
      await until(async () => {
        try {
          await dev.load('models/user.ts');
          return false;
        } catch (error) {
          return /boom in the model file/.test(String(error));
        }
      });
      expect(mongoose.model(`${p}User`)).toBe(User);
      expect(mongoose.connection.models[`${p}User`]).toBe(User);
      expect(mongoose.modelNames()).not.toContain(`${p}Orphan`);
      expect(dev.logs.filter((line) => line.includes('threw while evaluating'))).toHaveLength(1);
      if (connected) expect((await User.create({ name: 'still served' })).name).toBe('still served');

      await dev.edit('models/user.ts', userModel(p, 3));
      const fresh = await until(async () => {
        const { User } = await dev.load('models/user.ts');
        return fields(User).includes('f3') && User;
      });
      expect(mongoose.model(`${p}User`)).toBe(fresh);
      expect(mongoose.modelNames()).not.toContain(`${p}Orphan`);
    });

    it('keeps one generation alive over 30 edits and reports each batch', async () => {
      await open(((prefix: string) => ({ 'models/user.ts': userModel(prefix, 0) })) as never, { report: 'reports/orm-hmr.jsonl' });
      const models: WeakRef<object>[] = [];
      const modules: WeakRef<object>[] = [];
      // Loads in a function of its own, so this test's frames hold no generation while we count.
      const loadVersion = async (version: number) => {
        const loaded = await until(async () => {
          const loaded = await dev.load('models/user.ts');
          return fields(loaded.User).includes(`f${version}`) && loaded;
        });
        models.push(new WeakRef(loaded.User));
        modules.push(new WeakRef(loaded.lookup));
      };
      await loadVersion(0);
      for (let version = 1; version <= 30; version++) {
        await dev.edit('models/user.ts', userModel(p, version));
        await loadVersion(version);
        if (version % 10 === 0) {
          const record = await settled();
          expect(record?.alive[`${p}User`]).toBe(1);
        }
      }
      expect(models).toHaveLength(31);
      expect(await countAlive(models)).toBe(1);
      expect(await countAlive(modules)).toBe(1);

      const lines = project.read('reports/orm-hmr.jsonl').trim().split('\n').map((line) => JSON.parse(line));
      expect(lines.length).toBeGreaterThanOrEqual(3);
      lines.forEach((record, i) => {
        expect(record.reload).toBe(i + 1);
        expect(record.files).toContain('models/user.ts');
        expect(record.purged).toContainEqual({ adapter: 'mongoose', name: `${p}User` });
        for (const key of ['purgeMs', 'heapUsed', 'rss', 'external', 'gcMs']) expect(typeof record[key]).toBe('number');
        expect(record.gc).toBe(true);
      });
      expect(lines.at(-1).alive[`${p}User`]).toBe(1);
      const memoryLines = dev.logs.filter((line) => /\[orm-hmr\] reload #\d+/.test(line));
      expect(memoryLines.length).toBe(lines.length);
      expect(memoryLines.at(-1)).toMatch(new RegExp(`models/user\\.ts · purged mongoose:${p}User \\([\\d.]+ ms\\) · heap [\\d.]+ MB( [▁▂▃▄▅▆▇█]+)? \\([+-][\\d.]+ MB, [+-][\\d.]+ MB since #1\\) · rss [\\d.]+ MB · alive ${p}User 1( \\(\\+\\d+ others at 1\\))? · gc [\\d.]+ ms`));
    });
  });
}
