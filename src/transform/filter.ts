import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { defaultExclude, type FilterPattern } from '../options.ts';

/** A pattern that survives JSON (Turbopack passes loader options as JSON): globs as strings, RegExps spelled out. */
export type PortablePattern = string | { regexp: string; flags: string };

export function toPortable(pattern: FilterPattern | undefined): PortablePattern[] | undefined {
  if (pattern === undefined) return undefined;
  const list = Array.isArray(pattern) ? pattern : [pattern as string | RegExp];
  return list.map((p) => (p instanceof RegExp ? { regexp: p.source, flags: p.flags } : p));
}

/** picomatch is loaded only for globs: the default patterns are RegExps, and the dev server's process keeps what it loads. */
const picomatch = (): typeof import('picomatch') => createRequire(import.meta.url)('picomatch') as typeof import('picomatch');

function matcher(patterns: PortablePattern[], root: string): (file: string) => boolean {
  const tests = patterns.map((p) => {
    if (typeof p !== 'string') {
      const re = new RegExp(p.regexp, p.flags.replace('g', ''));
      return (file: string) => re.test(file);
    }
    const glob = isAbsolute(p) ? p : resolve(root, p);
    return picomatch()(glob.split('\\').join('/'), { dot: true });
  });
  return (file) => {
    const normalized = file.split('\\').join('/');
    return tests.some((test) => test(normalized));
  };
}

/**
 * What the transform asks about each file: false when excluded, true when `include` selects it,
 * undefined when no `include` was given (then zero-config detection decides). `packageDir`, our own
 * install, is never transformed.
 */
export function createSelector(
  include: PortablePattern[] | undefined,
  exclude: PortablePattern[] | undefined,
  root: string,
  packageDir: string,
): (file: string) => boolean | undefined {
  const excluded = matcher(exclude ?? toPortable(defaultExclude)!, root);
  const included = include && matcher(include, root);
  return (file) => {
    if (file.startsWith(packageDir) || excluded(file)) return false;
    return included ? included(file) : undefined;
  };
}
