// Builds the embedded FerretDB ahead of time (CI does this before the tests). Skipped under MONGODB_URI.
import { buildFerretDB, DatabaseUnavailable } from './ferretdb.js';

if (process.env.MONGODB_URI) console.log('MONGODB_URI is set: no embedded database needed.');
else {
  try {
    console.log(await buildFerretDB());
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) throw error;
    console.error(error.message); // what to do (install Go, or set MONGODB_URI), without a stack
    process.exit(1);
  }
}
