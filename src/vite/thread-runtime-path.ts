import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What injected code in a worker-thread environment imports: `thread-runtime.js` beside us (`.ts` in this repo). */
export const threadRuntimePath: string = ['thread-runtime.js', 'thread-runtime.ts']
  .map((f) => join(dirname(fileURLToPath(import.meta.url)), f))
  .find((f) => existsSync(f))!;
