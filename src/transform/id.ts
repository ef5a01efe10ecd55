/** Module ids arrive with Vite's `?t=` / `?v=` stamps or webpack's loader prefixes; the file is the key. */
export function cleanId(id: string): string {
  const file = id.slice(id.lastIndexOf('!') + 1);
  const query = file.search(/[?#]/);
  return query >= 0 ? file.slice(0, query) : file;
}
