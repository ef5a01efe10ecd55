import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Our own install: never transformed. `dist/` when installed, `src/` when this repo runs from source. */
export const packageDir: string = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The runtime the injected code imports: `dist/runtime/index.js` when installed, `src/runtime/index.ts` in this repo. */
export const runtimePath: string = ['index.js', 'index.ts'].map((f) => join(packageDir, 'runtime', f)).find((f) => existsSync(f))!;
