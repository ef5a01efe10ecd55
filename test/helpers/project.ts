import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger, ViteDevServer } from 'vite';
import type { OrmHmrOptions } from '../../src/options.ts';

const tmp = join(import.meta.dirname, '..', '.tmp');

/** A throwaway project under test/.tmp (inside the repo, so `mongoose` resolves from our node_modules). */
export class Project {
  readonly root: string;
  /** `base`: where the project lives; its packages resolve from there up (default test/.tmp). */
  constructor(name: string, files: Record<string, string> = {}, base = tmp) {
    mkdirSync(base, { recursive: true });
    this.root = mkdtempSync(join(base, `${name}-`));
    for (const [file, content] of Object.entries(files)) this.write(file, content);
  }
  path(file: string): string {
    return join(this.root, file);
  }
  write(file: string, content: string): void {
    mkdirSync(dirname(this.path(file)), { recursive: true });
    writeFileSync(this.path(file), content);
  }
  read(file: string): string {
    return readFileSync(this.path(file), 'utf8');
  }
  exists(file: string): boolean {
    return existsSync(this.path(file));
  }
  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export type ViteName = 'vite' | 'vite7' | 'vite6';
export type LoadMode = 'ssrLoadModule' | 'runner';

export interface Dev {
  server: ViteDevServer;
  /** Loads (and, after an edit, re-evaluates) a module the way the mode does. */
  load<T = Record<string, any>>(file: string): Promise<T>;
  /** Writes the file and waits until Vite's watcher has seen it (saving again if it missed it). */
  edit(file: string, content: string): Promise<void>;
  /** Logger lines, ANSI colours removed. */
  logs: string[];
  close(): Promise<void>;
}

/** Colour codes: picocolors turns them on under CI=true, and our assertions read plain text. */
export const ansi = /\x1b\[[0-9;]*m/g;

/** A real Vite dev server (version `vite`) on `project`, loading modules with `mode`. */
export async function startVite(
  project: Project,
  { vite = 'vite', mode = 'ssrLoadModule', options = {} }: { vite?: ViteName; mode?: LoadMode; options?: OrmHmrOptions } = {},
): Promise<Dev> {
  const { createServer, createLogger, createServerModuleRunner } = (await import(vite)) as typeof import('vite');
  const { ormHmr } = await import('../../dist/vite/index.js');
  const logs: string[] = [];
  const base = createLogger('info', { allowClearScreen: false });
  const capture = (level: 'info' | 'warn' | 'warnOnce' | 'error') => (message: string, options?: object) => {
    logs.push(message.replace(ansi, ''));
    if (process.env.ORM_HMR_TEST_LOGS) base[level](message, options);
  };
  const customLogger: Logger = { ...base, info: capture('info'), warn: capture('warn'), warnOnce: capture('warnOnce'), error: capture('error') };
  const server = await createServer({
    root: project.root,
    configFile: false,
    customLogger,
    // No websocket (tests run in parallel), but HMR stays on for the module runner.
    server: { middlewareMode: true, ws: false, watch: { usePolling: false } } as object,
    appType: 'custom',
    plugins: [ormHmr({ settleMs: 30, ...options })],
  });
  // Edits made before the watcher's first scan ends go unseen.
  await new Promise<void>((resolve) => {
    server.watcher.once('ready', resolve);
    setTimeout(resolve, 2_000);
  });
  let lastWrite = 0;
  const runner = mode === 'runner' ? createServerModuleRunner(server.environments.ssr, { hmr: { logger: false } }) : undefined;
  return {
    server,
    logs,
    load: (file) => (runner ? runner.import(project.path(file)) : server.ssrLoadModule(project.path(file))) as never,
    async edit(file, content) {
      const path = project.path(file);
      // The watcher folds changes to one file that come within a few tens of ms into one event;
      // an editor never saves that fast, so space our saves out like a person would.
      const wait = lastWrite + 120 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Under load the watcher may fold this save into the previous one's event (it stats the file
      // late, sees no new mtime and stays quiet). A person would save again; so do we, with the
      // same content, until the watcher has seen it.
      for (let attempt = 0; attempt < 4; attempt++) {
        const seen = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => done(false), 1_500);
          function done(result: boolean) {
            clearTimeout(timer);
            server.watcher.off('change', onChange);
            server.watcher.off('add', onChange);
            resolve(result);
          }
          function onChange(changed: string) {
            if (changed === path) done(true);
          }
          server.watcher.on('change', onChange);
          server.watcher.on('add', onChange);
        });
        project.write(file, content);
        lastWrite = Date.now();
        if (await seen) return;
      }
      throw new Error(`the watcher never saw ${file} change`);
    },
    async close() {
      await runner?.close();
      await server.close();
    },
  };
}

/** Polls `check` until it returns a truthy value (or throws no more), for at most `ms`. */
export async function until<T>(check: () => Promise<T> | T, ms = 10_000, what = 'condition', every = 20): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
      last = new Error(`returned ${String(value)}`);
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${(last as Error)?.message ?? last}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/**
 * Saves `content` and waits for `check` to see it, saving again (same content) when the watcher
 * folded the save into an earlier one and nothing was rebuilt, as a person would.
 */
export async function saveUntil<T>(project: Project, file: string, content: string, check: () => Promise<T> | T, every = 50): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  for (let attempt = 1; ; attempt++) {
    project.write(file, content);
    try {
      return await until(check, attempt < 4 ? 8_000 : 20_000, `${file} to take effect`, every);
    } catch (error) {
      if (attempt >= 4) throw error;
    }
  }
}
