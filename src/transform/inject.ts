import { insertionMap, type Insertion, type SourceMap } from './source-map.ts';

export interface InjectOptions {
  /** Module id passed to the runtime: the file path, without query. */
  id: string;
  /** Specifier of `orm-hmr/runtime` as this bundler should load it. */
  runtime: string;
  /**
   * Take the process's runtime from globalThis when it is there, and import it only when not
   * (ESM only; a Vite module runner awaits every import anyway): in a dev server whose runner runs
   * in the plugin's own process, one import less for the runner to resolve on every evaluation.
   */
  runtimeFromGlobal?: boolean;
  /**
   * Where imports resolve (specifier to file), with `runtimeFromGlobal`: the runtime hands back
   * the namespace it got from that file before, and the module imports it (dynamically) only the
   * first time, instead of one more static import for the runner to resolve on every evaluation.
   */
  resolved?: Readonly<Record<string, string>>;
  /** Adapter packages the module imports statically; their namespaces go to the runtime. */
  imports: readonly string[];
  /** The module awaits at top level. */
  async: boolean;
  /** A hash of the module's code: the runtime tells a re-run of unchanged failing code from a new save. */
  version: string;
  /** `esm` injects import statements, `cjs` require calls. */
  format: 'esm' | 'cjs';
}

const HANDLE = '__orm_hmr__';
const RUNTIME = '__orm_hmr_runtime__';
/** Where the runtime keeps itself (runtime/hook.ts): the same key, written out here so the transform never loads the runtime. */
const GLOBAL = 'globalThis[Symbol.for("orm-hmr.runtime")]';

/**
 * The injected code: one line before the module, one after, and nothing but forwarding calls
 * (all logic is in the runtime). Pinned by a snapshot test.
 */
export function injectedCode(options: InjectOptions): { prologue: string; epilogue: string } {
  const load = (name: string, specifier: string) =>
    options.format === 'esm'
      ? `import * as ${name} from ${JSON.stringify(specifier)};`
      : `const ${name} = require(${JSON.stringify(specifier)});`;
  const fromGlobal = options.runtimeFromGlobal && options.format === 'esm';
  const at = fromGlobal ? options.imports.filter((specifier) => options.resolved?.[specifier] !== undefined) : [];
  const namespaces = options.imports.filter((specifier) => !at.includes(specifier)).map((specifier, i) => [`__orm_hmr_import_${i}__`, specifier] as const);
  const imports = [
    ...namespaces.map(([name, specifier]) => `${JSON.stringify(specifier)}: ${name}`),
    ...at.map((specifier) => `${JSON.stringify(specifier)}: ${RUNTIME}.namespaceAt(${JSON.stringify(options.resolved![specifier])}) ?? await import(${JSON.stringify(specifier)})`),
  ].join(', ');
  const files = at.length > 0 ? `at: { ${at.map((specifier) => `${JSON.stringify(specifier)}: ${JSON.stringify(options.resolved![specifier])}`).join(', ')} }, ` : '';
  const prologue =
    (fromGlobal ? `const ${RUNTIME} = ${GLOBAL} ?? await import(${JSON.stringify(options.runtime)});` : load(RUNTIME, options.runtime)) +
    namespaces.map(([name, specifier]) => load(name, specifier)).join('') +
    `const ${HANDLE} = ${RUNTIME}.enter(${JSON.stringify(options.id)}, { imports: { ${imports} }, ${files}async: ${options.async}, version: ${JSON.stringify(options.version)} });`;
  // The closure is never called: it makes V8 keep the handle in the module's scope, so the
  // runtime can tell, through a WeakRef, whether that scope is still alive.
  const epilogue = `\n;${HANDLE}.commit(() => ${HANDLE});\n`;
  return { prologue, epilogue };
}

/** FNV-1a over the code, 32 bits in hex: cheap, and only ever compared with the same file's previous hash. */
export function codeVersion(code: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < code.length; i++) {
    hash ^= code.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/**
 * Wraps a module. The prologue shares the first line (after a shebang or leading directives), so
 * line numbers and stack traces stay those of the source.
 */
export function injectInto(code: string, options: InjectOptions): { code: string; map: SourceMap; insertion: Insertion } {
  const { prologue, epilogue } = injectedCode(options);
  const offset = prologueOffset(code);
  const before = code.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  const insertion = { line: before.split('\n').length - 1, column: offset - lineStart, length: prologue.length };
  return { code: before + prologue + code.slice(offset) + epilogue, map: insertionMap(code, options.id, insertion), insertion };
}

/**
 * After a `#!` line and the directive prologue (`'use strict'`, `'use client'`, `'use server'`),
 * which must stay first: Next.js refuses a `'use client'` that is not.
 */
function prologueOffset(code: string): number {
  let offset = 0;
  if (code.startsWith('#!')) {
    const end = code.indexOf('\n');
    offset = end < 0 ? code.length : end + 1;
  }
  const directive = /^(?:\s|\/\/[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(['"])use [\w-]+\1[ \t]*;?/;
  for (;;) {
    const match = directive.exec(code.slice(offset));
    if (!match) return offset;
    offset += match[0].length;
  }
}
