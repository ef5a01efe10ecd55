/** Source files a bundler may hand us as server code. */
export const scriptRE: RegExp = /\.[cm]?[jt]sx?$/;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Finds which of `packages` a module imports: statically (`import ... from 'mongoose'`,
 * `export ... from`), or dynamically (`import('mongoose')`, `require('mongoose')`). Subpaths count
 * (`mongoose/lib/...`). A regular expression, not a parse: it runs on every server module.
 */
export function findImports(code: string, packages: readonly string[]): { found: boolean; staticImports: string[]; requires: string[] } {
  if (packages.length === 0) return { found: false, staticImports: [], requires: [] };
  const { staticRE, dynamicRE } = patternsFor(packages);
  const staticImports = new Set<string>();
  for (const match of code.matchAll(staticRE)) staticImports.add(match[2]!);
  const requires = new Set<string>();
  let dynamic = false;
  for (const match of code.matchAll(dynamicRE)) {
    dynamic = true;
    if (match[1] === 'require') requires.add(match[3]!);
  }
  return { found: staticImports.size > 0 || dynamic, staticImports: [...staticImports], requires: [...requires] };
}

// Global patterns: matchAll copies them, so their lastIndex never leaks between calls.
let cached: { key: string; staticRE: RegExp; dynamicRE: RegExp } | undefined;

/** The two patterns for a package list, compiled once (the list only changes when adapters do). */
function patternsFor(packages: readonly string[]) {
  const key = packages.join('\0');
  if (cached?.key !== key) {
    const names = packages.map(escape).join('|');
    cached = {
      key,
      staticRE: new RegExp(`(?:^|[\\s;}])(?:import|export)\\s*(?:[\\w$*{}\\s,]+?\\s*from\\s*)?(['"])((?:${names})(?:/[^'"]*)?)\\1`, 'g'),
      dynamicRE: new RegExp(`\\b(import|require)\\s*\\(\\s*(['"])((?:${names})(?:/[^'"]*)?)\\2\\s*\\)`, 'g'),
    };
  }
  return cached;
}

/** Matches source that mentions one of `packages` in quotes: the cheap pre-filter bundlers run before calling us. */
export function mentionsPattern(packages: readonly string[]): RegExp {
  return new RegExp(`['"](?:${packages.map(escape).join('|')})(?:/[^'"]*)?['"]`);
}

/**
 * Whether the module is ESM (has import/export statements); otherwise we treat it as CommonJS. A
 * module that assigns `module.exports` or `exports.*` is CommonJS whatever its text says (no ES
 * module may: webpack refuses it): Prisma's generated CommonJS runtime quotes
 * `import { PrismaPg } from '@prisma/adapter-pg'` in an error message.
 */
export function isEsm(code: string): boolean {
  return /(?:^|[\s;}])(?:import\b\s*[\w$*{"']|export\b\s*[\w$*{])/.test(code) && !/(?:^|[\s;},(])(?:module\.exports\s*=[^=]|exports\.[\w$]+\s*=[^=])/.test(code);
}
