import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

// With a `webpack` function in next.config, Next makes the config a build dependency of webpack's
// persistent cache, and webpack walks the config's imports, parsing each ES module, before its
// first cache store. Through all of orm-hmr that walk delayed the store by seconds in a busy
// `next dev`, which then kept megabytes of module sources (issue 15). webpack's own tracker here.
const require = createRequire(import.meta.url);
const FileSystemInfo = require('webpack/lib/fs/FileSystemInfo') as new (fs: unknown, options: object) => {
  resolveBuildDependencies(context: string, deps: string[], optional: string[], callback: (error: Error | null, result: { files: Set<string> }) => void): void;
};
const dist = join(import.meta.dirname, '../dist');
const root = mkdtempSync(join(import.meta.dirname, '.tmp-build-deps-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('webpack’s build-dependency walk of a next.config importing orm-hmr/next stops at that file', async () => {
  mkdirSync(root, { recursive: true });
  const config = join(root, 'next.config.mjs');
  writeFileSync(config, `import { withOrmHmr } from ${JSON.stringify(join(dist, 'next/index.js'))};\nexport default withOrmHmr({});\n`);
  const quiet = () => {};
  const info = new FileSystemInfo(require('graceful-fs'), { logger: { log: quiet, debug: quiet, warn: quiet, info: quiet, time: quiet, timeEnd: quiet } });
  const { files } = await new Promise<{ files: Set<string> }>((resolve, reject) =>
    info.resolveBuildDependencies(root, [config], [], (error, result) => (error ? reject(error) : resolve(result))),
  );
  const ours = [...files].filter((file) => file.startsWith(dist)).map((file) => file.slice(dist.length + 1));
  expect(ours).toEqual(['next/index.js']);
  // What the config gets is still the whole of withOrmHmr.
  const { withOrmHmr } = await import(join(dist, 'next/index.js'));
  expect(typeof withOrmHmr({}).webpack).toBe('function');
}, 30_000);
