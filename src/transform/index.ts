import { findImports, isEsm, scriptRE } from './detect.ts';
import { codeVersion, injectInto } from './inject.ts';
import { hasTopLevelAwait, type Node } from './top-level-await.ts';
import { cleanId } from '../runtime/ids.ts';

export interface TransformContext {
  /** Specifier the injected code uses to load the runtime. */
  runtime: string;
  /** The runtime of the process running the code may be on globalThis already (see InjectOptions). */
  runtimeFromGlobal?: boolean;
  /** Where the module's imports of adapter packages resolve (see InjectOptions). */
  resolved?: Readonly<Record<string, string>>;
  /** Packages handled by adapters (detection, and namespaces handed to adapters). */
  packages: readonly string[];
  /** Whether user `include` / `exclude` select this file; `undefined` when no `include` was given (zero config). */
  selected: (file: string) => boolean | undefined;
  /** Any ESTree parser; only called for modules that contain `await`. */
  parse: (code: string) => Node;
}

/**
 * The one transform both bundler integrations run on server modules. Returns null for modules
 * that are not ours: client code never reaches here, the integrations check the environment.
 */
export function transformModule(code: string, rawId: string, context: TransformContext): ReturnType<typeof injectInto> | null {
  const id = cleanId(rawId);
  if (rawId.startsWith('\0') || code.includes('__orm_hmr_runtime__')) return null; // virtual, or already ours
  const selected = context.selected(id);
  if (selected === false) return null;
  const imports = findImports(code, context.packages);
  if (selected === undefined && !(scriptRE.test(id) && imports.found)) return null;
  const format = isEsm(code) ? 'esm' : 'cjs';
  return injectInto(code, {
    id,
    runtime: context.runtime,
    runtimeFromGlobal: context.runtimeFromGlobal,
    resolved: context.resolved,
    // The namespaces handed to adapters: what the module imports (ESM) or requires (CommonJS, e.g.
    // ts-loader's output), so an adapter sees the very instance the bundle uses.
    imports: (format === 'esm' ? imports.staticImports : imports.requires).filter((specifier) => context.packages.includes(specifier)),
    async: /\bawait\b/.test(code) && format === 'esm' && awaitsAtTopLevel(code, context.parse),
    format,
    version: codeVersion(code),
  });
}

function awaitsAtTopLevel(code: string, parse: TransformContext['parse']): boolean {
  try {
    return hasTopLevelAwait(parse(code));
  } catch {
    // Unparsable here (the bundler will say why): assume it may pause, so no false rollback.
    return true;
  }
}
