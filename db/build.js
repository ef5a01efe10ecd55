// Builds the embedded FerretDB ahead of time (CI does this before the tests). Skipped under MONGODB_URI.
import { buildFerretDB } from './ferretdb.js';

if (process.env.MONGODB_URI) console.log('MONGODB_URI is set: no embedded database needed.');
else console.log(buildFerretDB());
