import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Configuration } from 'webpack';
import { resolveOptions, type OrmHmrOptions } from '../options.ts';
import { applySettings } from '../runtime/config.ts';
import { getRuntime } from '../runtime/hook.ts';
import { mentionsPattern } from '../transform/detect.ts';
import { runtimePath } from '../transform/paths.ts';
import { OrmHmrPlugin, loaderOptions, loaderPath } from '../webpack/index.ts';

/** The part of a Next.js config we touch; typed loosely so any Next 15/16 config fits. */
export interface NextConfigLike {
  webpack?: ((config: Configuration, context: NextWebpackContext) => Configuration) | null;
  turbopack?: { rules?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

interface NextWebpackContext {
  dev: boolean;
  isServer: boolean;
  nextRuntime?: 'nodejs' | 'edge';
  dir: string;
  [key: string]: unknown;
}

/** Files our Turbopack rule looks at. A glob of its own, so a user's `'*'` rule is left alone. */
const TURBOPACK_GLOB = '*.{js,jsx,mjs,cjs,ts,tsx,mts,cts}';

/**
 * Next.js: hot reload for ORM models in `next dev`, with webpack (`next dev --webpack`) and with
 * Turbopack. Only Node.js server code in development gets the wrapper: never client or edge
 * bundles, never `next build`.
 *
 * @example
 * // next.config.mjs
 * import { withOrmHmr } from 'orm-hmr/next';
 * export default withOrmHmr({ reactStrictMode: true });
 */
export function withOrmHmr<T extends NextConfigLike>(nextConfig: T = {} as T, options: OrmHmrOptions = {}): T {
  const resolved = resolveOptions(options); // validated in every phase, so a typo fails `next build` too
  // `next build` and `next start` load the config with NODE_ENV=production: their output gets
  // nothing of ours, so the config stays as it is and the runtime is never started (it would only
  // warn that it does nothing there).
  if (process.env.NODE_ENV === 'production') return nextConfig;
  const userWebpack = nextConfig.webpack;
  const root = process.cwd();
  // Next loads its config in each of its processes, the one that serves included: with Turbopack
  // this is where the runtime there gets its settings.
  applySettings(getRuntime(), resolved, root);
  // Installed in the app's node_modules, the runtime stays external to Turbopack's server chunks:
  // Node loads it once, instead of each route's chunk carrying (and keeping) a copy. (Next sets
  // TURBOPACK before loading the config; with webpack, OrmHmrPlugin keeps the runtime external.)
  const external = !!process.env.TURBOPACK && installedRuntime(root);
  const loader = { ...loaderOptions(resolved, root), ...(external && { runtime: 'orm-hmr/runtime' }) };
  const turbopackRule = {
    // `development`: not in `next build`; `node`: server code on the Node.js runtime only.
    condition: {
      all: [
        'development',
        'node',
        { not: 'foreign' },
        { not: { path: /[\\/]node_modules[\\/]/ } },
        ...(resolved.include === undefined ? [{ content: mentionsPattern(loader.packages) }] : []),
      ],
    },
    loaders: [{ loader: loaderPath, options: loader }],
  };
  const rules = { ...(nextConfig.turbopack?.rules ?? {}) };
  const existing = rules[TURBOPACK_GLOB];
  rules[TURBOPACK_GLOB] = existing === undefined ? turbopackRule : [...(Array.isArray(existing) ? existing : [existing]), turbopackRule];

  const serverExternalPackages = nextConfig.serverExternalPackages as string[] | undefined;
  return {
    ...nextConfig,
    ...(external && { serverExternalPackages: [...new Set([...(serverExternalPackages ?? []), 'orm-hmr'])] }),
    turbopack: { ...nextConfig.turbopack, rules },
    webpack(config: Configuration, context: NextWebpackContext) {
      const result = typeof userWebpack === 'function' ? userWebpack(config, context) : config;
      // Next runs this for the Node.js server, the edge server and the client: only the first gets us.
      if (context.dev && context.isServer && context.nextRuntime === 'nodejs') {
        (result.plugins ??= []).push(new OrmHmrPlugin({ ...options, logger: 'console' }));
      }
      return result;
    },
  };
}

/** Whether the app resolves `orm-hmr/runtime` to this very runtime (installed, not run from elsewhere). */
function installedRuntime(root: string): boolean {
  try {
    return createRequire(join(root, 'package.json')).resolve('orm-hmr/runtime') === runtimePath;
  } catch {
    return false;
  }
}
