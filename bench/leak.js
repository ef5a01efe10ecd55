// One strategy, one process: 100 reloads of a Mongoose model module (or a TypeORM entity module)
// holding about 1 MB, through a real Vite dev server (ssrLoadModule), measuring heap after a full
// GC, whether each edit took effect, and how many generations of the model stay alive. Prints one
// JSON line.
//   node --expose-gc bench/leak.js <orm-hmr|overwriteModels|deleteModel|guard|typeorm:orm-hmr|typeorm:plain> [reloads]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as settle } from 'node:timers/promises';
import { benchProject, benchServer } from './dev-server.js';
import { ormHmr } from '../dist/vite/index.js';
import { settled } from '../dist/runtime/index.js';

const strategy = process.argv[2];
const reloads = Number(process.argv[3] ?? 100);
const strategies = {
  'orm-hmr': (schema) => `export const User = mongoose.model('User', ${schema});`,
  overwriteModels: (schema) => `mongoose.set('overwriteModels', true);\nexport const User = mongoose.model('User', ${schema});`,
  deleteModel: (schema) => `if (mongoose.models.User) mongoose.deleteModel('User');\nexport const User = mongoose.model('User', ${schema});`,
  guard: (schema) => `export const User = mongoose.models.User || mongoose.model('User', ${schema});`,
  // TypeORM has no guard or overwrite switch: a plain re-evaluation pushes its decorators' args again.
  'typeorm:orm-hmr': () => '',
  'typeorm:plain': () => '',
};
const typeorm = strategy.startsWith('typeorm:');
if (!strategies[strategy]) throw new Error(`strategy must be one of ${Object.keys(strategies).join(', ')}`);

// About 1 MB of module-scope data per generation, referenced by the model (a static), as real
// models reference their module's helpers.
const mongooseSource = (version) => `import mongoose, { Schema } from 'mongoose';
const lookup = Array.from({ length: 12000 }, (_, i) => ({ id: i, label: 'item-' + i + '-v${version}' }));
const schema = new Schema({ name: String, f${version}: String });
schema.statics.lookup = () => lookup;
${strategies[strategy]('schema')}
`;
const typeormSource = (version) => `import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
const lookup = Array.from({ length: 12000 }, (_, i) => ({ id: i, label: 'item-' + i + '-v${version}' }));
@Entity('user')
export class User {
  static lookup = lookup;
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') name!: string;
  @Column('text', { nullable: true }) f${version}!: string;
}
`;
const source = typeorm ? typeormSource : mongooseSource;

const root = benchProject(`leak-${strategy.replace(':', '-')}`);
mkdirSync(join(root, 'models'));
// TypeORM's decorators are the legacy ones; Vite reads the switch from the nearest tsconfig.json.
if (typeorm) writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false } }));
const file = join(root, 'models', 'user.ts');
writeFileSync(file, source(0));
const server = await benchServer(root, strategy.endsWith('orm-hmr') ? [ormHmr({ memoryLine: false, gc: false })] : []);
const storage = typeorm ? (await import('typeorm')).getMetadataArgsStorage() : undefined;
/** Whether generation `version` took effect: its new field is in the schema (Mongoose) or registered for the class (TypeORM). */
const applies = (User, version) =>
  typeorm ? storage.columns.some((c) => c.target === User && c.propertyName === `f${version}`) : !!User.schema.path(`f${version}`);

async function fullGc() {
  for (let i = 0; i < 2; i++) {
    await settle();
    globalThis.gc();
    await settle();
  }
}

const refs = [];
const samples = [];
let applied = 0;
const start = performance.now();
for (let version = 0; version <= reloads; version++) {
  if (version > 0) {
    writeFileSync(file, source(version));
    server.moduleGraph.onFileChange(file); // what Vite's watcher does on a save
  }
  const { User } = await server.ssrLoadModule(file);
  if (applies(User, version)) applied++;
  refs.push(new WeakRef(User));
  if (version % 10 === 0) {
    await fullGc();
    samples.push({ reload: version, heapUsed: process.memoryUsage().heapUsed });
  }
}
const elapsedMs = performance.now() - start;
await settled();
await fullGc();
// Distinct live models: the guard hands back one model every time.
const alive = new Set(refs.map((ref) => ref.deref()).filter(Boolean)).size;
// TypeORM's global registry: entity (table) and column entries it holds at the end.
const registry = storage && { tables: storage.tables.length, columns: storage.columns.length };
await server.close();
rmSync(root, { recursive: true, force: true });
console.log(JSON.stringify({ strategy, reloads, applied: applied - 1, alive, registry, samples, elapsedMs }));
process.exit(0);
