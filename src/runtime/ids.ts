import { isAbsolute, relative, sep } from 'node:path';

/**
 * Module ids, file names. Imported by the transform too: no other import here, so the webpack
 * loader does not load the runtime, its adapters and the ledger.
 */

/** Module ids arrive with Vite's `?t=` / `?v=` stamps or webpack's loader prefixes; the file is the key. */
export function cleanId(id: string): string {
  const file = id.slice(id.lastIndexOf('!') + 1);
  const query = file.search(/[?#]/);
  return query >= 0 ? file.slice(0, query) : file;
}

/** The name logs and reports show: relative to the project root, `/`-separated. */
export function fileName(id: string, root: string): string {
  if (!isAbsolute(id)) return id;
  const rel = relative(root, id);
  return (rel.startsWith('..') ? id : rel).split(sep).join('/');
}

/** File names by module id, for one root at a time: `path.relative` is slow enough to cache. */
export class FileNames {
  readonly #names = new Map<string, string>();
  #root = '';

  get(id: string, root: string): string {
    if (this.#root !== root) {
      this.#names.clear();
      this.#root = root;
    }
    let name = this.#names.get(id);
    if (name === undefined) this.#names.set(id, (name = fileName(id, root)));
    return name;
  }
}
