/**
 * Node module hooks (registered by register.ts, run on Node's loader thread): each ES module of
 * the app that imports a supported ORM is wrapped by the same transform as under Vite and webpack.
 * A reloading tool's query (`?version=3`, `?hot=3`) is not part of the module's id: every version
 * of a file is one record, which purges the previous version's models.
 */
import { parse } from 'acorn';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createSelector } from '../transform/filter.ts';
import { transformModule } from '../transform/index.ts';
import { packageDir, runtimePath } from '../transform/paths.ts';
import type { Node } from '../transform/top-level-await.ts';

export interface HooksData {
  /** Packages the adapters handle (`mongoose`, ...): a module importing one is wrapped. */
  packages: string[];
  root: string;
}

type LoadResult = { format?: string | null; source?: string | ArrayBuffer | ArrayBufferView | null; shortCircuit?: boolean };
type NextLoad = (url: string, context?: object) => Promise<LoadResult>;

let settings: HooksData = { packages: [], root: process.cwd() };
let selected: (file: string) => boolean | undefined = () => undefined;
const runtime = pathToFileURL(runtimePath).href;

export function initialize(data: HooksData): void {
  settings = data;
  selected = createSelector(undefined, undefined, data.root, packageDir);
}

export async function load(url: string, context: object, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!url.startsWith('file:') || result.format !== 'module' || result.source == null) return result;
  const file = fileURLToPath(url.replace(/[?#].*$/, ''));
  if (file.includes('/node_modules/')) return result;
  const code = typeof result.source === 'string' ? result.source : Buffer.from(result.source as ArrayBuffer).toString('utf8');
  try {
    const wrapped = transformModule(code, file, {
      runtime,
      packages: settings.packages,
      selected,
      parse: (source) => parse(source, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as unknown as Node,
    });
    return wrapped ? { ...result, source: wrapped.code } : result;
  } catch {
    // Not plain JavaScript (TypeScript left for a later hook): left as it is.
    return result;
  }
}
