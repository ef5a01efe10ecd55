import { createRequire } from 'node:module';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { createSelector, type PortablePattern } from '../transform/filter.ts';
import { transformModule } from '../transform/index.ts';
import { shiftMap, type SourceMap } from '../transform/source-map.ts';
import type { Node } from '../transform/top-level-await.ts';

/** Loader options: plain JSON, since Turbopack serializes them. */
export interface LoaderOptions {
  /** Specifier the injected code loads the runtime with. */
  runtime: string;
  packages: string[];
  root: string;
  packageDir: string;
  include?: PortablePattern[];
  exclude?: PortablePattern[];
}

/** The part of webpack's loader context we use; Turbopack's loader runner offers the same. */
export interface LoaderContext {
  resourcePath: string;
  sourceMap?: boolean;
  getOptions(): LoaderOptions;
}

const selectors = new Map<string, ReturnType<typeof createSelector>>();
const acorn = (): typeof import('acorn') => createRequire(import.meta.url)('acorn') as typeof import('acorn');

/** Wraps one module; returns the source untouched when it is not ours. */
export function load(context: LoaderContext, code: string, inputMap?: unknown): { code: string; map?: unknown } {
  const options = context.getOptions();
  const key = JSON.stringify([options.include, options.exclude, options.root, options.packageDir]);
  let selected = selectors.get(key);
  if (!selected) selectors.set(key, (selected = createSelector(options.include, options.exclude, options.root, options.packageDir)));
  const result = transformModule(code, context.resourcePath, {
    runtime: relativeSpecifier(context.resourcePath, options.runtime),
    packages: options.packages,
    selected,
    // acorn (0.7 MB of heap) is loaded only for the few modules that contain `await`.
    parse: (source) => acorn().parse(source, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as unknown as Node,
  });
  if (!result) return { code, map: inputMap };
  if (context.sourceMap === false) return { code: result.code };
  // A map from the loaders before us: the prologue only moves columns on its line, so that map is
  // shifted rather than composed with ours.
  const map = isSourceMap(inputMap) ? shiftMap(inputMap, result.insertion) : result.map;
  return { code: result.code, map };
}

function isSourceMap(map: unknown): map is SourceMap {
  return typeof map === 'object' && map !== null && typeof (map as SourceMap).mappings === 'string';
}

/**
 * The runtime as a path relative to the module: Turbopack resolves an absolute specifier against
 * the project root, not the file system; a relative one means the same file to every bundler.
 */
function relativeSpecifier(from: string, to: string): string {
  if (!isAbsolute(to)) return to; // a package specifier (`orm-hmr/runtime`), resolved by the bundler
  const path = relative(dirname(from), to).split(sep).join('/');
  return path.startsWith('.') ? path : `./${path}`;
}
