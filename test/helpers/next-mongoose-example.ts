import { cpSync } from 'node:fs';
import { join } from 'node:path';

/** Installs this build of orm-hmr (dist and package.json) into the project's node_modules, as npm would. */
export function installOrmHmr(root: string): void {
  const repo = join(import.meta.dirname, '../..');
  cpSync(join(repo, 'dist'), join(root, 'node_modules/orm-hmr/dist'), { recursive: true });
  cpSync(join(repo, 'package.json'), join(root, 'node_modules/orm-hmr/package.json'));
}

/**
 * Next.js's official `with-mongodb-mongoose` example (Pages Router), as a user has it: a model
 * behind the `models.Pet ||` guard, `lib/dbConnect.ts` caching the connection on `global.mongoose`,
 * API routes and a page that each load the model in their own server bundle. Written as JavaScript
 * in `.ts` files (models, lib) and `.js` pages, so Next does not set up TypeScript (which would
 * install packages). `p` prefixes the model name: test runs share one database. `withOrmHmr`:
 * where next.config.mjs imports it from (by default the package, installed with {@link installOrmHmr}).
 */
export function exampleFiles(p: string, withOrmHmr = 'orm-hmr/next'): Record<string, string> {
  return {
    // No "type": Turbopack refuses `import` in files of a "commonjs" package.
    'package.json': JSON.stringify({ name: 'with-mongodb-mongoose', private: true }),
    'next.config.mjs': `import { withOrmHmr } from ${JSON.stringify(withOrmHmr)};\nexport default withOrmHmr({ reactStrictMode: true }, { report: 'orm-hmr.jsonl' });\n`,
    'lib/dbConnect.ts': `import mongoose from 'mongoose';

const MONGODB_URI = process.env.MONGODB_URI;

if (!MONGODB_URI) {
  throw new Error('Please define the MONGODB_URI environment variable inside .env.local');
}

let cached = global.mongoose;

if (!cached) {
  cached = global.mongoose = { conn: null, promise: null };
}

async function dbConnect() {
  if (cached.conn) {
    return cached.conn;
  }
  if (!cached.promise) {
    const opts = {
      bufferCommands: false,
    };
    cached.promise = mongoose.connect(MONGODB_URI, opts).then((mongoose) => {
      return mongoose;
    });
  }
  try {
    cached.conn = await cached.promise;
  } catch (e) {
    cached.promise = null;
    throw e;
  }

  return cached.conn;
}

export default dbConnect;
`,
    'models/Pet.ts': petModel(p, 1),
    'pages/api/pets/index.js': `import dbConnect from '../../../lib/dbConnect';
import Pet from '../../../models/Pet';

export default async function handler(req, res) {
  await dbConnect();
  if (req.method === 'POST') {
    const pet = await Pet.create(req.body);
    return res.status(201).json({ success: true, data: pet });
  }
  const pets = await Pet.find({});
  res.status(200).json({ success: true, data: pets, fields: Object.keys(Pet.schema.paths) });
}
`,
    'pages/api/pets/[id].js': `import dbConnect from '../../../lib/dbConnect';
import Pet from '../../../models/Pet';

export default async function handler(req, res) {
  await dbConnect();
  const pet = await Pet.findById(req.query.id);
  if (!pet) return res.status(400).json({ success: false });
  res.status(200).json({ success: true, data: pet, fields: Object.keys(Pet.schema.paths) });
}
`,
    'pages/index.js': `import dbConnect from '../lib/dbConnect';
import Pet from '../models/Pet';

export default function Index({ pets, fields }) {
  return <main><p id="fields">{fields.join(',')}</p>{pets.map((pet) => <p key={pet._id}>{pet.name}</p>)}</main>;
}

export async function getServerSideProps() {
  await dbConnect();
  const result = await Pet.find({});
  const pets = result.map((doc) => {
    const pet = doc.toObject();
    pet._id = pet._id.toString();
    return { _id: pet._id, name: pet.name };
  });
  return { props: { pets, fields: Object.keys(Pet.schema.paths) } };
}
`,
  };
}

/**
 * The example's model, with a field named after the version (`v3`) so a test sees each edit.
 * `cache: 'keep'` adds a real leak (every generation pushed to a global list); `'clear'` is the fix
 * (the list emptied, nothing pushed).
 */
export function petModel(p: string, version: number, cache?: 'keep' | 'clear'): string {
  return `import mongoose from 'mongoose';

const PetSchema = new mongoose.Schema({
  name: { type: String, required: [true, 'Please provide a name for this pet.'], maxlength: [60, 'Name cannot be more than 60 characters'] },
  owner_name: { type: String, maxlength: [60, "Owner's Name cannot be more than 60 characters"] },
  species: { type: String, maxlength: [40, 'Species specified cannot be more than 40 characters'] },
  age: { type: Number },
  poddy_trained: { type: Boolean },
  diet: { type: Array },
  image_url: { type: String },
  likes: { type: Array },
  dislikes: { type: Array },
  v${version}: { type: String },
});

const Pet = mongoose.models.${p}Pet || mongoose.model('${p}Pet', PetSchema);
${cache === 'keep' ? 'globalThis.petHistory = [...(globalThis.petHistory ?? []), Pet];\n' : cache === 'clear' ? 'globalThis.petHistory = [];\n' : ''}export default Pet;
`;
}
