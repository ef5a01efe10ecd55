import { decode, encode, type SourceMapMappings } from '@jridgewell/sourcemap-codec';

/** A source map as bundlers take it (version 3, JSON-ready). */
export interface SourceMap {
  version: 3;
  file?: string;
  sources: (string | null)[];
  sourcesContent?: (string | null)[];
  names: string[];
  mappings: string;
  [key: string]: unknown;
}

/**
 * The one edit the transform makes to existing lines: the prologue, which has no line break,
 * inserted at `line`/`column` (0-based, UTF-16 units). The epilogue only adds lines at the end.
 */
export interface Insertion {
  line: number;
  column: number;
  length: number;
}

const isWord = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;

/**
 * The map from the wrapped module back to `code`: a segment at each word start and each other
 * character (magic-string's `hires: 'boundary'`), none for the inserted prologue or the epilogue.
 * Built here because the only edit is a shift: magic-string and a map-composing library cost
 * 0.4 MB of heap in the process that runs the bundler (webpack's runs in Next.js's server).
 */
export function insertionMap(code: string, source: string, insertion: Insertion): SourceMap {
  const lines: SourceMapMappings = [[]];
  let line = 0;
  let column = 0;
  let inWord = false;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c === 10) {
      lines.push([]);
      line++;
      column = 0;
      inWord = false;
      continue;
    }
    const shift = line === insertion.line && column >= insertion.column ? insertion.length : 0;
    // The insertion splits the text: the first character after it starts a segment of its own.
    const split = shift !== 0 && column === insertion.column;
    if (!isWord(c) || !inWord || split) lines[line]!.push([column + shift, 0, line, column]);
    inWord = isWord(c);
    column++;
  }
  return { version: 3, sources: [source], sourcesContent: [code], names: [], mappings: encode(lines) };
}

/**
 * `map` (from the code we were given to its sources) made to start from the wrapped code:
 * generated columns after the insertion, on its line, move right. Exact, with nothing to compose.
 */
export function shiftMap(map: SourceMap, insertion: Insertion): SourceMap {
  const lines = decode(map.mappings);
  const segments = lines[insertion.line];
  if (!segments) return map;
  for (const segment of segments) if (segment[0] >= insertion.column) segment[0] += insertion.length;
  return { ...map, mappings: encode(lines) };
}
