import { createRequire } from 'node:module';
import type { withOrmHmr as WithOrmHmr } from './with-orm-hmr.ts';

export type { NextConfigLike } from './with-orm-hmr.ts';

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
export const withOrmHmr: typeof WithOrmHmr = (nextConfig, options) => implementation().withOrmHmr(nextConfig, options);

export default withOrmHmr;

/**
 * The rest of orm-hmr, required rather than imported. With a `webpack` function in the config,
 * Next makes next.config a build dependency of webpack's cache, and webpack walks its import graph
 * by parsing each file before its first cache store: through ours that took seconds on a busy
 * machine, the store then ran late and the server kept megabytes of module sources it would have
 * let go (issue 15). An installed orm-hmr is snapshotted by its version anyway, not file by file.
 * `.js` when installed, `.ts` when this repo runs from source.
 */
function implementation(): typeof import('./with-orm-hmr.ts') {
  const here = new URL(import.meta.url);
  return createRequire(here)(`./with-orm-hmr${here.pathname.slice(here.pathname.lastIndexOf('.'))}`) as typeof import('./with-orm-hmr.ts');
}
