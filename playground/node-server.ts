// `npm run dev:node`: the playground's plain Node server (server.ts) under `orm-hmr dev`, the way an
// Express or Fastify app runs: edit playground/models/*.ts or app.ts and request again; the server
// keeps listening. Starts the embedded database first unless MONGODB_URI is set.
import { join } from 'node:path';
import { startDatabase } from '../db/ferretdb.js';

if (!process.env.MONGODB_URI) {
  const database = await startDatabase({ dir: join(import.meta.dirname, '.data'), database: 'playground' });
  process.env.MONGODB_URI = database.uri;
  console.log(`[playground] database ${database.embedded ? '(embedded FerretDB) ' : ''}ready`);
}
await import('./server.ts');
