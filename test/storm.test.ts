import { writeFileSync } from 'node:fs';
import mongoose from 'mongoose';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { settled } from '../dist/runtime/index.js';
import { Project, startVite, until } from './helpers/project.ts';

// A reload storm: 300 saves 20 ms apart across three model files, while a bounded loop of reads
// and writes runs against the real database through the dev server's modules.
const names = ['Alpha', 'Beta', 'Gamma'];
const model = (name: string, version: number) => `import mongoose, { Schema } from 'mongoose';
const schema = new Schema({ n: Number, tag: String, v${version}: String });
schema.statics.version = () => ${version};
export const ${name} = mongoose.model('Storm${name}', schema);
`;
const app = `import mongoose from 'mongoose';
${names.map((name) => `import { ${name} } from './models/${name.toLowerCase()}.ts';`).join('\n')}
export const models = { ${names.join(', ')} };
// By name, as populate and other modules do.
export const byName = (name) => mongoose.model('Storm' + name);
`;

beforeAll(async () => {
  await mongoose.connect(inject('mongoUri'));
  await Promise.all(names.map((name) => mongoose.connection.db!.collection(`storm${name.toLowerCase()}s`).deleteMany({})));
});
afterAll(async () => {
  await mongoose.disconnect();
});

it('loses no write and never misses a model during 300 saves at 20 ms intervals', async () => {
  const files = Object.fromEntries(names.map((name) => [`models/${name.toLowerCase()}.ts`, model(name, 0)]));
  const project = new Project('storm', { ...files, 'app.ts': app });
  const dev = await startVite(project);
  const acknowledged = new Map<string, number>(names.map((name) => [name, 0]));
  const modelErrors: string[] = [];
  let otherErrors = 0;
  let requests = 0;
  let storming = true;
  const load = () => dev.load<{ models: Record<string, mongoose.Model<any>>; byName: (n: string) => mongoose.Model<any> }>('app.ts');

  // The load: bounded in count and time, loopback only (the embedded database).
  const traffic = (async () => {
    const deadline = Date.now() + 60_000;
    while ((storming || requests % 10 !== 0) && requests < 5_000 && Date.now() < deadline) {
      requests++;
      const name = names[requests % names.length]!;
      try {
        const { models, byName } = await load();
        if (requests % 2 === 0) {
          await models[name]!.create({ n: requests, tag: 'storm' });
          acknowledged.set(name, acknowledged.get(name)! + 1);
        } else {
          await byName(name).countDocuments({ tag: 'storm' });
        }
      } catch (error) {
        const message = String(error);
        // A save caught half-written is a syntax error the dev server reports; a missing or
        // duplicate model would be ours.
        if (/OverwriteModelError|Cannot overwrite|MissingSchemaError|Schema hasn't been registered|already exists/.test(message)) {
          modelErrors.push(message);
        } else otherErrors++;
      }
    }
  })();

  try {
    for (let save = 1; save <= 300; save++) {
      const name = names[save % names.length]!;
      writeFileSync(project.path(`models/${name.toLowerCase()}.ts`), model(name, save));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    storming = false;
    await traffic;

    // The last save of each file is what serves, once the watcher has seen it (save again if a
    // storm folded it into an earlier event, as a person would).
    const final = new Map<string, number>();
    for (const [index, name] of names.entries()) {
      const version = 300 - ((300 - index) % names.length); // the last save that went to this file
      final.set(name, version);
      await dev.edit(`models/${name.toLowerCase()}.ts`, model(name, version));
    }
    const loaded = await until(async () => {
      const { models } = await load();
      return names.every((name) => models[name]!.schema.path(`v${final.get(name)}`) !== undefined) && models;
    }, 15_000, 'the final schemas');
    for (const name of names) {
      expect((loaded[name] as unknown as { version(): number }).version()).toBe(final.get(name));
      expect(mongoose.model(`Storm${name}`)).toBe(loaded[name]);
      expect(await loaded[name]!.countDocuments({ tag: 'storm' })).toBe(acknowledged.get(name));
    }
    expect(modelErrors).toEqual([]);
    expect(requests).toBeGreaterThan(100);
    const record = await settled();
    for (const name of names) expect(record?.alive[`Storm${name}`]).toBe(1);
    console.log(`storm: ${requests} requests, ${[...acknowledged.values()].reduce((a, b) => a + b)} writes acknowledged and found, ${otherErrors} requests hit a half-written save`);
  } finally {
    storming = false;
    await traffic;
    await dev.close();
    project.remove();
  }
});
