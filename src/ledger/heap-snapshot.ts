import { createReadStream } from 'node:fs';

/** The part of a `.heapsnapshot` file's `snapshot.meta` we use: field layouts and type names. */
export interface HeapSnapshotMeta {
  node_fields: string[];
  /** First entry: the names of the values of the `type` field. */
  node_types: unknown[];
  edge_fields: string[];
  edge_types: unknown[];
}

/**
 * The snapshot's `strings`, as UTF-8 bytes end to end and an offset per string. A large heap has
 * millions of them: as JS strings they would live on the very heap being studied, and every full GC
 * during the read would walk them all (the read of a 200 MB heap's snapshot took three times as
 * long). Bytes stay off the heap; a string is decoded when asked for.
 */
export class StringTable {
  constructor(
    readonly bytes: Buffer,
    /** Start of each string in `bytes`, plus the end of the last. */
    readonly offsets: Uint32Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  get(index: number): string {
    // Out of range, toString would quietly decode the whole table.
    if (!(index >= 0 && index < this.length)) throw new RangeError(`heap snapshot: no string ${index}`);
    return this.bytes.toString('utf8', this.offsets[index], this.offsets[index + 1]);
  }

  /**
   * Every string that begins with `prefix`, with its index: one search through the bytes, the rest
   * never decoded (markers share a prefix, so finding a hundred costs one pass).
   */
  startingWith(prefix: string): Map<string, number> {
    const found = new Map<string, number>();
    const needle = Buffer.from(prefix);
    const { bytes, offsets } = this;
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
      // Empty strings share their offset with the next string: take the last one starting here.
      let index = startingAt(offsets, at);
      if (index < 0) continue;
      while (index + 1 < this.length && offsets[index + 1] === at) index++;
      if (offsets[index + 1] - at >= needle.length) found.set(this.get(index), index);
    }
    return found;
  }
}

/** The first string that starts at byte `at` (binary search over the offsets), or -1. */
function startingAt(offsets: Uint32Array, at: number): number {
  let low = 0;
  let high = offsets.length - 2;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (offsets[middle] < at) low = middle + 1;
    else high = middle;
  }
  return offsets[low] === at ? low : -1;
}

/**
 * A V8 heap snapshot as flat arrays, the way the file stores it: `nodes` and `edges` are rows of
 * `meta.node_fields` / `meta.edge_fields` numbers. Nodes are addressed by ordinal (row number),
 * edges by their offset in `edges`. The offsets of the fields come from the meta, never from
 * assumptions about one V8 version (V8 has added node fields before: `detachedness`).
 */
export class HeapSnapshot {
  readonly nodeCount: number;
  readonly nodeFieldCount: number;
  readonly edgeFieldCount: number;
  readonly nodeTypes: string[];
  readonly edgeTypes: string[];
  readonly #type: number;
  readonly #name: number;
  readonly #id: number;
  readonly #selfSize: number;
  readonly #edgeType: number;
  readonly #edgeName: number;
  readonly #edgeTo: number;
  /** Offset in `edges` of each node's first edge; one extra entry closes the last node. */
  readonly firstEdge: Uint32Array;

  constructor(
    readonly meta: HeapSnapshotMeta,
    readonly nodes: Uint32Array,
    readonly edges: Uint32Array,
    readonly strings: StringTable,
  ) {
    const field = (fields: string[], name: string) => {
      const index = fields.indexOf(name);
      if (index < 0) throw new Error(`heap snapshot: no "${name}" field in meta`);
      return index;
    };
    this.nodeFieldCount = meta.node_fields.length;
    this.edgeFieldCount = meta.edge_fields.length;
    this.#type = field(meta.node_fields, 'type');
    this.#name = field(meta.node_fields, 'name');
    this.#id = field(meta.node_fields, 'id');
    this.#selfSize = field(meta.node_fields, 'self_size');
    const edgeCount = field(meta.node_fields, 'edge_count');
    this.#edgeType = field(meta.edge_fields, 'type');
    this.#edgeName = field(meta.edge_fields, 'name_or_index');
    this.#edgeTo = field(meta.edge_fields, 'to_node');
    this.nodeTypes = meta.node_types[this.#type] as string[];
    this.edgeTypes = meta.edge_types[this.#edgeType] as string[];
    if (nodes.length % this.nodeFieldCount || edges.length % this.edgeFieldCount) {
      throw new Error('heap snapshot: nodes or edges are not whole rows');
    }
    this.nodeCount = nodes.length / this.nodeFieldCount;
    this.firstEdge = new Uint32Array(this.nodeCount + 1);
    let offset = 0;
    for (let ordinal = 0; ordinal < this.nodeCount; ordinal++) {
      this.firstEdge[ordinal] = offset;
      offset += nodes[ordinal * this.nodeFieldCount + edgeCount] * this.edgeFieldCount;
    }
    this.firstEdge[this.nodeCount] = offset;
    if (offset !== edges.length) throw new Error('heap snapshot: edge counts do not add up to the edges');
  }

  nodeType(ordinal: number): string {
    return this.nodeTypes[this.nodes[ordinal * this.nodeFieldCount + this.#type]];
  }

  nodeName(ordinal: number): string {
    return this.strings.get(this.nodes[ordinal * this.nodeFieldCount + this.#name]);
  }

  /** The heap object id: stable across snapshots of one process, what DevTools shows as `@id`. */
  nodeId(ordinal: number): number {
    return this.nodes[ordinal * this.nodeFieldCount + this.#id];
  }

  selfSize(ordinal: number): number {
    return this.nodes[ordinal * this.nodeFieldCount + this.#selfSize];
  }

  edgeType(edge: number): string {
    return this.edgeTypes[this.edges[edge + this.#edgeType]];
  }

  /** Element and hidden edges carry an index; the other types a name from `strings`. */
  edgeName(edge: number): string | number {
    const value = this.edges[edge + this.#edgeName];
    const type = this.edgeType(edge);
    return type === 'element' || type === 'hidden' ? value : this.strings.get(value);
  }

  /** The raw `name_or_index` value: a `strings` index for named edges. */
  edgeNameIndex(edge: number): number {
    return this.edges[edge + this.#edgeName];
  }

  edgeTypeIndex(edge: number): number {
    return this.edges[edge + this.#edgeType];
  }

  /** Ordinal of the node an edge points to (the file stores it as an offset in `nodes`). */
  edgeTarget(edge: number): number {
    return this.edges[edge + this.#edgeTo] / this.nodeFieldCount;
  }
}

// Parser states. The file is one object whose values we treat three ways: `nodes`/`edges` into
// typed arrays, `strings` into a StringTable, `snapshot` captured and JSON-parsed (it is small);
// everything else (`locations`, `samples`, …) is skipped without being kept.
const TOP_OPEN = 0;
const TOP_KEY = 1;
const TOP_COLON = 2;
const NUMBERS_OPEN = 3;
const NUMBERS = 4;
const VALUE = 5;
const STRINGS_OPEN = 6;
const STRINGS = 7;
const STRING = 8;
const DONE = 9;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Incremental `.heapsnapshot` parser: feed it chunks with `push()`, then `finish()`. It never holds
 * more than one chunk of text plus the string being read, so a snapshot of a large heap costs its
 * typed arrays and its strings, not its JSON text.
 */
export class HeapSnapshotParser {
  #state = TOP_OPEN;
  #key = '';
  #meta: HeapSnapshotMeta | undefined;
  #nodeCount = -1;
  #edgeCount = -1;
  #nodes = new Uint32Array(1024);
  #nodesLength = 0;
  #edges = new Uint32Array(1024);
  #edgesLength = 0;
  #stringBytes = Buffer.allocUnsafe(1 << 20);
  #stringEnd = 0;
  #stringOffsets = new Uint32Array(1024);
  #stringCount = 0;
  // Numbers being read: which array, the value so far, whether a digit was seen.
  #intoNodes = true;
  #number = 0;
  #digits = false;
  // Strings being read (keys and `strings` items): bytes from earlier chunks, escape state.
  #stringParts: Buffer[] = [];
  #escaped = false;
  #hasEscape = false;
  #stringIsKey = false;
  // Values skipped or captured (`snapshot`): nesting depth, string state, captured bytes.
  #depth = 0;
  #started = false;
  #inString = false;
  #capture: Uint8Array[] | undefined;

  push(bytes: Uint8Array): void {
    // Buffer's toString decodes a slice without making a view of it first.
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case TOP_OPEN:
        case TOP_COLON:
        case NUMBERS_OPEN:
        case STRINGS_OPEN: {
          const c = chunk[i++];
          if (isSpace(c)) break;
          this.#punctuation(c);
          break;
        }
        case TOP_KEY:
        case STRINGS: {
          const c = chunk[i++];
          if (isSpace(c) || c === 0x2c) break;
          if (c === 0x22) {
            this.#stringIsKey = this.#state === TOP_KEY;
            this.#beginString();
          } else if (c === 0x7d && this.#state === TOP_KEY) this.#state = DONE;
          else if (c === 0x5d && this.#state === STRINGS) this.#state = TOP_KEY;
          else throw this.#unexpected(c);
          break;
        }
        case STRING:
          i = this.#readString(chunk, i);
          break;
        case NUMBERS:
          i = this.#readNumbers(chunk, i);
          break;
        case VALUE:
          i = this.#readValue(chunk, i);
          break;
        case DONE: {
          const c = chunk[i++];
          if (!isSpace(c)) throw this.#unexpected(c);
          break;
        }
      }
    }
  }

  finish(): HeapSnapshot {
    if (this.#state !== DONE) throw new Error('heap snapshot: the file ends early');
    if (!this.#meta) throw new Error('heap snapshot: no snapshot.meta');
    const nodes = this.#nodes.subarray(0, this.#nodesLength);
    const edges = this.#edges.subarray(0, this.#edgesLength);
    const offsets = this.#stringOffsets.subarray(0, this.#stringCount + 1);
    offsets[this.#stringCount] = this.#stringEnd;
    const strings = new StringTable(this.#stringBytes.subarray(0, this.#stringEnd), offsets);
    const snapshot = new HeapSnapshot(this.#meta, nodes, edges, strings);
    if (this.#nodeCount >= 0 && snapshot.nodeCount !== this.#nodeCount) throw new Error('heap snapshot: node_count does not match nodes');
    if (this.#edgeCount >= 0 && edges.length / snapshot.edgeFieldCount !== this.#edgeCount) {
      throw new Error('heap snapshot: edge_count does not match edges');
    }
    return snapshot;
  }

  #punctuation(c: number): void {
    if (this.#state === TOP_OPEN && c === 0x7b) this.#state = TOP_KEY;
    else if (this.#state === TOP_COLON && c === 0x3a) {
      const key = this.#key;
      if (key === 'nodes' || key === 'edges') {
        this.#intoNodes = key === 'nodes';
        this.#state = NUMBERS_OPEN;
      } else if (key === 'strings') this.#state = STRINGS_OPEN;
      else {
        this.#depth = 0;
        this.#started = false;
        this.#inString = false;
        this.#escaped = false;
        this.#capture = key === 'snapshot' ? [] : undefined;
        this.#state = VALUE;
      }
    } else if (this.#state === NUMBERS_OPEN && c === 0x5b) {
      this.#number = 0;
      this.#digits = false;
      this.#state = NUMBERS;
    } else if (this.#state === STRINGS_OPEN && c === 0x5b) this.#state = STRINGS;
    else throw this.#unexpected(c);
  }

  #beginString(): void {
    if (this.#stringParts.length) this.#stringParts = [];
    this.#escaped = false;
    this.#hasEscape = false;
    this.#state = STRING;
  }

  /** Reads up to the closing quote; keeps the bytes of an unfinished string for the next chunk. */
  #readString(chunk: Buffer, start: number): number {
    const n = chunk.length;
    let escaped = this.#escaped;
    for (let i = start; i < n; i++) {
      const c = chunk[i];
      if (escaped) escaped = false;
      else if (c === 0x5c) {
        escaped = true;
        this.#hasEscape = true;
      } else if (c === 0x22) {
        if (this.#stringIsKey) {
          this.#key = this.#decode(chunk, start, i);
          this.#state = TOP_COLON;
        } else {
          this.#storeString(chunk, start, i);
          this.#state = STRINGS;
        }
        return i + 1;
      }
    }
    this.#escaped = escaped;
    this.#stringParts.push(chunk.slice(start));
    return n;
  }

  #decode(chunk: Buffer, start: number, end: number): string {
    const text = this.#stringParts.length
      ? Buffer.concat([...this.#stringParts, chunk.subarray(start, end)]).toString('utf8')
      : chunk.toString('utf8', start, end);
    return this.#hasEscape ? (JSON.parse(`"${text}"`) as string) : text;
  }

  /** Appends a `strings` item to the string table: raw bytes unless it has escapes to undo. */
  #storeString(chunk: Buffer, start: number, end: number): void {
    if (this.#stringCount + 2 > this.#stringOffsets.length) this.#stringOffsets = grow(this.#stringOffsets);
    this.#stringOffsets[this.#stringCount++] = this.#stringEnd;
    if (this.#hasEscape) {
      const value = this.#decode(chunk, start, end);
      this.#reserve(Buffer.byteLength(value));
      this.#stringEnd += this.#stringBytes.write(value, this.#stringEnd, 'utf8');
      return;
    }
    for (const part of this.#stringParts) {
      this.#reserve(part.length);
      this.#stringEnd += part.copy(this.#stringBytes, this.#stringEnd);
    }
    this.#reserve(end - start);
    if (end - start > 64) {
      this.#stringEnd += chunk.copy(this.#stringBytes, this.#stringEnd, start, end);
      return;
    }
    // Most names are short: Buffer#copy of a slice makes a view object per call, millions of them.
    const bytes = this.#stringBytes;
    let to = this.#stringEnd;
    for (let i = start; i < end; i++) bytes[to++] = chunk[i];
    this.#stringEnd = to;
  }

  #reserve(bytes: number): void {
    if (this.#stringEnd + bytes <= this.#stringBytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#stringBytes.length * 2, this.#stringEnd + bytes));
    this.#stringBytes.copy(bigger, 0, 0, this.#stringEnd);
    this.#stringBytes = bigger;
  }

  /** The hot loop: unsigned integers separated by commas and newlines, straight into a typed array. */
  #readNumbers(chunk: Uint8Array, start: number): number {
    const n = chunk.length;
    const intoNodes = this.#intoNodes;
    let array = intoNodes ? this.#nodes : this.#edges;
    let length = intoNodes ? this.#nodesLength : this.#edgesLength;
    let number = this.#number;
    let digits = this.#digits;
    let i = start;
    let closed = false;
    while (i < n) {
      const c = chunk[i++];
      if (c >= 0x30 && c <= 0x39) {
        number = number * 10 + (c - 0x30);
        digits = true;
      } else if (c === 0x2c || c === 0x5d) {
        if (digits) {
          if (number > 0xffffffff) throw new Error('heap snapshot: a node or edge field exceeds 32 bits');
          if (length === array.length) array = grow(array);
          array[length++] = number;
        } else if (c === 0x2c) throw this.#unexpected(c);
        number = 0;
        digits = false;
        if (c === 0x5d) {
          closed = true;
          break;
        }
      } else if (!isSpace(c)) throw this.#unexpected(c);
    }
    if (intoNodes) {
      this.#nodes = array;
      this.#nodesLength = length;
    } else {
      this.#edges = array;
      this.#edgesLength = length;
    }
    this.#number = number;
    this.#digits = digits;
    if (closed) this.#state = TOP_KEY;
    return i;
  }

  /** Skips one JSON value of any kind, or captures it when it is `snapshot`. */
  #readValue(chunk: Uint8Array, start: number): number {
    const n = chunk.length;
    let i = start;
    if (!this.#started) {
      while (i < n && isSpace(chunk[i])) i++;
      if (i === n) return n;
      this.#started = true;
      start = i;
    }
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    let end = -1;
    for (; i < n; i++) {
      const c = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        // A scalar's value ends at the object's closing brace, which is not part of it.
        if (depth === 0) {
          end = i;
          break;
        }
        if (--depth === 0) {
          end = i + 1;
          break;
        }
      } else if (depth === 0 && (c === 0x2c || isSpace(c))) {
        end = i;
        break;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    if (end < 0) {
      this.#capture?.push(chunk.slice(start));
      return n;
    }
    if (this.#capture) {
      this.#capture.push(chunk.subarray(start, end));
      this.#takeSnapshotInfo(JSON.parse(Buffer.concat(this.#capture).toString('utf8')));
      this.#capture = undefined;
    }
    this.#state = TOP_KEY;
    return end;
  }

  /** `snapshot` comes first in V8's files, so the counts let us size the arrays exactly. */
  #takeSnapshotInfo(info: { meta?: HeapSnapshotMeta; node_count?: number; edge_count?: number }): void {
    if (!info.meta?.node_fields || !info.meta.edge_fields) throw new Error('heap snapshot: snapshot.meta lacks field lists');
    this.#meta = info.meta;
    this.#nodeCount = info.node_count ?? -1;
    this.#edgeCount = info.edge_count ?? -1;
    const nodes = this.#nodeCount * info.meta.node_fields.length;
    const edges = this.#edgeCount * info.meta.edge_fields.length;
    if (nodes > this.#nodes.length && this.#nodesLength === 0) this.#nodes = new Uint32Array(nodes);
    if (edges > this.#edges.length && this.#edgesLength === 0) this.#edges = new Uint32Array(edges);
  }

  #unexpected(c: number): Error {
    return new Error(`heap snapshot: unexpected ${JSON.stringify(String.fromCharCode(c))} (parser state ${this.#state})`);
  }
}

function grow(array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Reads a `.heapsnapshot` file chunk by chunk. */
export async function readHeapSnapshot(file: string): Promise<HeapSnapshot> {
  const parser = new HeapSnapshotParser();
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) parser.push(chunk as Buffer);
  return parser.finish();
}
