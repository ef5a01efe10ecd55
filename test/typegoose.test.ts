import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { Project, startVite, until, type Dev } from './helpers/project.ts';
import { countAlive } from './helpers/scenarios.ts';

// Typegoose 13.4 wants mongoose ~9.7: the app lives in test/typegoose-app, which has both.
const app = join(import.meta.dirname, 'typegoose-app');
const requireFromApp = createRequire(join(app, 'package.json'));
const mongoose = requireFromApp('mongoose') as typeof import('mongoose');

let counter = 0;

const tsconfig = JSON.stringify({ compilerOptions: { experimentalDecorators: true, emitDecoratorMetadata: true, target: 'ES2022' } });

/** A Typegoose class with a version field, and a discriminator class of it. */
const kitten = (p: string, v: number, extra = '') => `import { prop, getModelForClass, getDiscriminatorModelForClass, modelOptions } from '@typegoose/typegoose';

@modelOptions({ schemaOptions: { collection: 'tg_${p.toLowerCase()}_kittens', discriminatorKey: 'kind' } })
export class Kitten {
  @prop({ type: String, required: true }) public name!: string;
  @prop({ type: String }) public v${v}?: string;
}
export class Lion extends Kitten {
  @prop({ type: Number }) public roar${v}?: number;
}
${extra}
export const version = ${v};
export const KittenModel = getModelForClass(Kitten, { options: { customName: '${p}Kitten' } });
export const LionModel = getDiscriminatorModelForClass(KittenModel, Lion, '${p}Lion');
`;

describe('typegoose adapter (Typegoose 13.4, mongoose 9.7, real database)', () => {
  let project: Project;
  let dev: Dev;

  beforeAll(async () => {
    await mongoose.connect(inject('mongoUri'));
  });
  afterAll(async () => {
    await mongoose.disconnect();
  });
  afterEach(async () => {
    await dev?.close();
    project?.remove();
  });

  async function open(options = {}) {
    const p = `G${++counter}`;
    project = new Project('typegoose', { 'tsconfig.json': tsconfig, 'models/kitten.ts': kitten(p, 1) }, join(app, '.tmp'));
    dev = await startVite(project, { mode: 'runner', options });
    return p;
  }
  const load = () => dev.load('models/kitten.ts');
  const fields = (model: { schema: { paths: Record<string, unknown> } }) => Object.keys(model.schema.paths);

  it('compiles the edited class on each save, discriminators included, with one generation alive', async () => {
    const p = await open();
    // In a function of its own: a suspended async function keeps its dead locals in its registers.
    const firstModel = async () => {
      const { KittenModel } = await load();
      expect(fields(KittenModel)).toContain('v1');
      expect(KittenModel.db).toBe(mongoose.connection); // the app's mongoose 9.7, not ours
      return new WeakRef(KittenModel);
    };
    const refs: WeakRef<object>[] = [await firstModel()];
    for (let v = 2; v <= 12; v++) {
      await dev.edit('models/kitten.ts', kitten(p, v));
      const { KittenModel, LionModel } = await until(async () => {
        const m = await load();
        return m.version === v && m;
      }, 10_000, `version ${v}`);
      // Without the adapter, getModelForClass returns the cached first model: v1, forever.
      expect(fields(KittenModel)).toContain(`v${v}`);
      expect(fields(KittenModel)).not.toContain(`v${v - 1}`);
      expect(fields(LionModel)).toContain(`roar${v}`);
      const typegoose = requireFromApp('@typegoose/typegoose');
      expect(typegoose.getModelWithString(`${p}Kitten`)).toBe(KittenModel);
      expect(mongoose.model(`${p}Kitten`)).toBe(KittenModel);
      refs.push(new WeakRef(KittenModel));
    }
    const { KittenModel, LionModel } = await load();
    const saved = await KittenModel.create({ name: 'tom', v12: 'new field' });
    expect((await KittenModel.findById(saved._id).lean())?.v12).toBe('new field');
    await LionModel.create({ name: 'leo', roar12: 3 });
    expect(await LionModel.countDocuments({ roar12: 3 })).toBe(1);
    expect(await KittenModel.countDocuments({})).toBe(2);

    const record = await settled();
    expect(record?.purged).toEqual(expect.arrayContaining([{ adapter: 'typegoose', name: `${p}Kitten` }, { adapter: 'mongoose', name: `${p}Kitten` }]));
    expect(await countAlive(refs)).toBe(1);
  });

  it('keeps the previous class when an edit throws, and recovers on the next save', async () => {
    const p = await open();
    await load();
    await dev.edit('models/kitten.ts', kitten(p, 2, `throw new Error('broken kitten');`));
    await until(async () => {
      try {
        await load();
        return false;
      } catch (error) {
        return String(error).includes('broken kitten');
      }
    }, 10_000, 'the broken save');
    const typegoose = requireFromApp('@typegoose/typegoose');
    // The throwing body compiled a v2 model before it threw: rolled back, v1 serves.
    expect(fields(typegoose.getModelWithString(`${p}Kitten`))).toContain('v1');
    expect(fields(mongoose.model(`${p}Kitten`))).toContain('v1');
    await dev.edit('models/kitten.ts', kitten(p, 3));
    const { KittenModel } = await until(async () => {
      const m = await load().catch(() => undefined);
      return m?.version === 3 && m;
    }, 10_000, 'recovery');
    expect(fields(KittenModel)).toContain('v3');
    expect(typegoose.getModelWithString(`${p}Kitten`)).toBe(KittenModel);
    expect(dev.logs.filter((line) => line.includes('threw while evaluating'))).toHaveLength(1);
  });

  it('without the typegoose adapter (adapters: [\'mongoose\']), an edited class silently keeps the old schema', async () => {
    const p = await open({ adapters: ['mongoose'] });
    await load();
    await dev.edit('models/kitten.ts', kitten(p, 2));
    const { KittenModel } = await until(async () => {
      const m = await load();
      return m.version === 2 && m;
    }, 10_000, 'version 2');
    expect(fields(KittenModel)).toContain('v1');
    expect(fields(KittenModel)).not.toContain('v2');
  });
});
