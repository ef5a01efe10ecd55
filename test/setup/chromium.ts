import { spawn } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { cacheDir, say } from './say.ts';

/** The browser test/page.test.ts drives: where it is and what it needs in its environment. */
export interface Chromium {
  executablePath: string;
  env: Record<string, string>;
  source: string;
}

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];
const packageDir = join(import.meta.dirname, '..', '..', 'node_modules', '@sparticuz', 'chromium');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `CHROMIUM_PATH` when set; else a Chromium on PATH; else the one inside the @sparticuz/chromium
 * devDependency (a headless Chromium in its npm tarball, with the NSS libraries it links against),
 * unpacked once into the cache. Never a browser download: a machine behind a registry mirror has
 * no route to a browser CDN.
 */
export async function findChromium(): Promise<Chromium> {
  const chosen = process.env.CHROMIUM_PATH;
  if (chosen) {
    if (!executable(chosen)) throw new Error(`CHROMIUM_PATH=${chosen} is not an executable file`);
    return { executablePath: chosen, env: {}, source: 'CHROMIUM_PATH' };
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of SYSTEM_NAMES) {
      const path = join(dir, name);
      if (dir && executable(path)) return { executablePath: path, env: {}, source: 'system' };
    }
  }
  return unpackPackaged();
}

async function unpackPackaged(): Promise<Chromium> {
  if (!existsSync(join(packageDir, 'package.json'))) {
    throw new Error('No Chromium for test/page.test.ts: none on PATH, CHROMIUM_PATH unset, and node_modules/@sparticuz/chromium is missing (run npm ci)');
  }
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const dir = join(cacheDir, `chromium-${version}`);
  const binary = join(dir, 'chromium');
  const lib = join(dir, 'lib');
  if (!existsSync(binary)) {
    const started = Date.now();
    say(`unpacking Chromium from @sparticuz/chromium ${version} into ${dir} (first run only)...`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // Its NSS and expat, built for Amazon Linux 2023: the browser then needs nothing but glibc.
    await untarBrotli(join(packageDir, 'bin', 'al2023.tar.br'), dir);
    const partial = `${binary}.${process.pid}.partial`;
    await pipeline(createReadStream(join(packageDir, 'bin', 'chromium.br')), createBrotliDecompress(), createWriteStream(partial, { mode: 0o755 }));
    renameSync(partial, binary);
    say(`Chromium unpacked in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const libraryPath = [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(delimiter);
  return { executablePath: binary, env: { LD_LIBRARY_PATH: libraryPath }, source: `@sparticuz/chromium ${version}` };
}

async function untarBrotli(archive: string, into: string): Promise<void> {
  const tar = spawn('tar', ['-x', '-C', into], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited with ${code} unpacking ${archive}`))));
  });
  await pipeline(createReadStream(archive), createBrotliDecompress(), tar.stdin);
  await exited;
}
