import { dirname, join } from 'node:path';
import type { Compilation, Compiler } from 'webpack';

/** The part of webpack's (and Rspack's) output file system we use; `rename` is graceful-fs's and memfs's. */
interface OutputFs {
  writeFile(path: string, data: Buffer, callback: (error?: Error | null) => void): void;
  rename?(from: string, to: string, callback: (error?: Error | null) => void): void;
}

/**
 * Writes the hot-update manifest after every other asset, and atomically (a temporary file
 * renamed into place).
 *
 * webpack and Rspack emit all assets at once, each with a plain writeFile (created empty, then
 * written), and the app's `hot/poll` reads the manifest with `require()` as soon as it exists. A
 * poll that lands inside that window reads an empty or cut manifest ("Unexpected end of JSON
 * input"): webpack's HMR then fails for good ("You need to restart the application!"), Rspack's
 * stops applying updates without a word. A manifest that appears whole, and only once the update
 * chunks it lists are on disk, closes both windows.
 */
export function writeManifestLast(compiler: Compiler): void {
  const held = new WeakMap<Compilation, { name: string; content: Buffer }[]>();
  compiler.hooks.thisCompilation.tap('OrmHmrPlugin', (compilation) => {
    const stage = (compiler.webpack?.Compilation as { PROCESS_ASSETS_STAGE_REPORT?: number } | undefined)?.PROCESS_ASSETS_STAGE_REPORT ?? 5000;
    compilation.hooks.processAssets.tap({ name: 'OrmHmrPlugin', stage: stage + 1 }, () => {
      const manifests: { name: string; content: Buffer }[] = [];
      for (const { name, source, info } of compilation.getAssets()) {
        if (!name.endsWith('.json') || !(info.hotModuleReplacement || /\.hot-update\.json$/.test(name))) continue;
        manifests.push({ name, content: Buffer.from(source.buffer()) });
        compilation.deleteAsset(name);
      }
      if (manifests.length) held.set(compilation, manifests);
    });
  });
  compiler.hooks.afterEmit.tapAsync('OrmHmrPlugin', (compilation, callback) => {
    const manifests = held.get(compilation);
    const fs = compiler.outputFileSystem as unknown as OutputFs | null;
    if (!manifests || !fs) return callback();
    const outputPath = compilation.getPath(compiler.outputPath, {});
    Promise.all(manifests.map(({ name, content }) => writeAtomically(fs, join(outputPath, name), content))).then(
      () => callback(),
      (error: Error) => callback(error),
    );
  });
}

let counter = 0;

function writeAtomically(fs: OutputFs, target: string, content: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (!fs.rename) return fs.writeFile(target, content, done);
    // In the same directory, so the rename never crosses file systems.
    const temporary = join(dirname(target), `.${process.pid}.${++counter}.orm-hmr.tmp`);
    fs.writeFile(temporary, content, (error) => (error ? done(error) : fs.rename!(temporary, target, done)));
  });
}
