import { readFile } from 'node:fs/promises';
import type { Plugin } from 'vite';

/**
 * Never hands Vite an empty file that had content: an editor that truncates a file before writing
 * it would otherwise get the empty module evaluated when something imports it in between. Waits
 * for the write (up to `waitMs`); a file that stays empty is then loaded as it is.
 */
export function wholeFiles(waitMs = 1000): Plugin {
  const hadContent = new Set<string>();
  return {
    name: 'orm-hmr:whole-files',
    apply: 'serve',
    enforce: 'pre',
    async load(id) {
      if (!id.startsWith('/') || id.includes('\0') || id.includes('/node_modules/')) return null;
      const file = id.split('?')[0]!;
      for (const start = Date.now(); ; ) {
        let code: string;
        try {
          code = await readFile(file, 'utf8');
        } catch {
          return null;
        }
        if (code.length > 0) hadContent.add(file);
        if (code.length > 0 || !hadContent.has(file) || Date.now() - start > waitMs) return null;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
