import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeapSnapshotParser, readHeapSnapshot } from '../dist/ledger/heap-snapshot.js';
import { shortestRetainerPaths } from '../dist/ledger/retainer-path.js';
import { traceRetainers, type TraceReport, type TraceTarget } from '../dist/ledger/retainers.js';
import { writeSnapshotFile } from '../dist/ledger/snapshot-file.js';

const base = join(import.meta.dirname, '.tmp');
mkdirSync(base, { recursive: true });
const tmp = mkdtempSync(join(base, 'heap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Synthetic snapshots: small graphs written the way V8 writes them, with the fields of a node in
// an order V8 does not use, so that the reader has to follow snapshot.meta.

const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

interface Graph {
  nodes: { type: string; name: string }[];
  /** [from, type, name or index, to], grouped by `from` in any order. */
  edges: [number, string, string | number, number][];
}

function synthetic(graph: Graph, extra = ''): string {
  const strings: string[] = [];
  const string = (value: string) => (strings.includes(value) ? strings.indexOf(value) : strings.push(value) - 1);
  const nodeFields = ['name', 'id', 'edge_count', 'type', 'self_size'];
  const nodes = graph.nodes.flatMap((node, ordinal) => [
    string(node.name),
    ordinal * 2 + 1,
    graph.edges.filter(([from]) => from === ordinal).length,
    NODE_TYPES.indexOf(node.type),
    16,
  ]);
  const edges = graph.nodes.flatMap((_, ordinal) =>
    graph.edges
      .filter(([from]) => from === ordinal)
      .flatMap(([, type, name, to]) => [
        EDGE_TYPES.indexOf(type),
        type === 'element' || type === 'hidden' ? Number(name) : string(String(name)),
        to * nodeFields.length,
      ]),
  );
  const meta = {
    node_fields: nodeFields,
    node_types: ['string', 'number', 'number', NODE_TYPES, 'number'],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
  };
  return (
    `{"snapshot":{"meta":${JSON.stringify(meta)},\n"node_count":${graph.nodes.length},"edge_count":${graph.edges.length},"trace_function_count":0},\n` +
    `"nodes":[${nodes.join(',\n')}],\n"edges":[${edges.join(',\n')}],\n` +
    `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[12,34],\n"locations":[1,2,3,4]${extra},\n` +
    `"strings":[${strings.map((s) => JSON.stringify(s)).join(',\n')}]}\n`
  );
}

function parse(text: string, chunkSize = text.length) {
  const bytes = Buffer.from(text);
  const parser = new HeapSnapshotParser();
  for (let i = 0; i < bytes.length; i += chunkSize) parser.push(bytes.subarray(i, i + chunkSize));
  return parser.finish();
}

describe('heap snapshot reader', () => {
  const graph: Graph = {
    nodes: [
      { type: 'synthetic', name: '' },
      { type: 'object', name: 'global' },
      { type: 'object', name: 'café "quoted" \\ back\nslash \u2028 😀' },
    ],
    edges: [
      [0, 'shortcut', '1', 1],
      [1, 'property', 'ünïcode key', 2],
      [1, 'element', 7, 2],
    ],
  };
  // Values the reader skips, with brackets and quotes inside strings.
  const text = synthetic(graph, ',\n"unknown":{"a":"]}\\"[{","b":[1,{"c":[2.5e3,-1,true,null]}]},"scalar":-12.5e-3');

  it('reads any chunking the same as JSON.parse, with the field layout taken from the meta', () => {
    const json = JSON.parse(text);
    for (const size of [1, 2, 7, 64, text.length]) {
      const snapshot = parse(text, size);
      expect([...snapshot.nodes]).toEqual(json.nodes);
      expect([...snapshot.edges]).toEqual(json.edges);
      expect(Array.from({ length: snapshot.strings.length }, (_, i) => snapshot.strings.get(i))).toEqual(json.strings);
      expect(snapshot.nodeCount).toBe(3);
      expect(snapshot.nodeName(2)).toBe(graph.nodes[2].name);
      expect(snapshot.nodeType(1)).toBe('object');
      expect(snapshot.nodeId(2)).toBe(5);
      expect(snapshot.edgeName(snapshot.firstEdge[1])).toBe('ünïcode key');
      expect(snapshot.edgeName(snapshot.firstEdge[1] + 3)).toBe(7);
      expect(snapshot.edgeTarget(snapshot.firstEdge[1] + 3)).toBe(2);
    }
  });

  it('reads a file in chunks and rejects a truncated one', async () => {
    const file = join(tmp, 'synthetic.heapsnapshot');
    writeFileSync(file, text);
    const { strings } = await readHeapSnapshot(file);
    expect(Array.from({ length: strings.length }, (_, i) => strings.get(i))).toEqual(JSON.parse(text).strings);
    // Strings that start with it, not ones that contain it (`global` contains `lobal`).
    expect(strings.startingWith('ünï')).toEqual(new Map([['ünïcode key', 4]]));
    expect(strings.startingWith('glob')).toEqual(new Map([['global', 1]]));
    expect(strings.startingWith('lobal')).toEqual(new Map());
    expect(() => parse(text.slice(0, text.length - 20))).toThrow(/ends early/);
    expect(() => parse(text.replace('"nodes":[', '"nodes":[-'))).toThrow(/unexpected/);
  });
});

describe('shortest strong retainer path (synthetic graphs)', () => {
  const names = (graph: Graph, target: number) => {
    const snapshot = parse(synthetic(graph));
    const path = shortestRetainerPaths(snapshot, [target])[0];
    return path?.edges.map((edge) => String(snapshot.edgeName(edge)));
  };

  it('ignores weak edges and shortcut edges other than the root’s', () => {
    const graph: Graph = {
      nodes: [
        { type: 'synthetic', name: '' },
        { type: 'object', name: 'global' },
        { type: 'object', name: 'WeakRef' },
        { type: 'closure', name: 'native_bind' },
        { type: 'object', name: 'Target' },
      ],
      edges: [
        [0, 'shortcut', '1', 1],
        [1, 'property', 'ref', 2],
        [1, 'property', 'bound', 3],
        [2, 'weak', 'target', 4],
        [3, 'shortcut', 'bound_this', 4],
      ],
    };
    expect(names(graph, 4)).toBeUndefined();
  });

  it('reaches a WeakMap value only once both its table and its key are reached', () => {
    const entry = (i: number) => `${i} / part of key (Object @7) -> value (Target @9) pair in WeakMap (table @11)`;
    const graph: Graph = {
      nodes: [
        { type: 'synthetic', name: '' },
        { type: 'object', name: 'global' },
        { type: 'object', name: 'WeakMap' },
        { type: 'array', name: '' },
        { type: 'object', name: 'Object' },
        { type: 'object', name: 'Target' },
      ],
      edges: [
        [0, 'shortcut', '1', 1],
        [1, 'property', 'map', 2],
        [2, 'internal', 'table', 3],
        [3, 'weak', '1', 4],
        [3, 'internal', entry(2), 5],
        [4, 'internal', entry(3), 5],
      ],
    };
    expect(names(graph, 5)).toBeUndefined(); // the key is unreachable
    graph.edges.push([1, 'property', 'key', 4]);
    expect(names(graph, 5)).toEqual(['1', 'map', 'table', entry(2)]);
  });

  it('prefers the global object’s paths to GC roots, and property edges to internal ones', () => {
    const graph: Graph = {
      nodes: [
        { type: 'synthetic', name: '' },
        { type: 'object', name: 'global' },
        { type: 'synthetic', name: '(GC roots)' },
        { type: 'synthetic', name: '(Handle scope)' },
        { type: 'object', name: 'A' },
        { type: 'object', name: 'B' },
        { type: 'object', name: 'Target' },
      ],
      edges: [
        [0, 'shortcut', '1', 1],
        [0, 'element', 1, 2],
        [1, 'internal', 'hidden_slot', 4],
        [1, 'property', 'b', 5],
        [2, 'element', 1, 3],
        [3, 'element', 1, 6],
        [4, 'property', 'x', 6],
        [5, 'property', 'y', 6],
      ],
    };
    expect(names(graph, 6)).toEqual(['1', 'b', 'y']);
  });
});

// ---------------------------------------------------------------------------------------------
// Real snapshots of this process. Each holder is built in a function of its own, so no two share
// a closure context (V8 keeps one context per function for everything its closures capture), and
// the tests keep only WeakRefs.

class Leaky {
  payload = new Array(16).fill(0);
}

declare global {
  var someCache: { items: object[] } | undefined;
  var weakHolders: object | undefined;
  var weakMapEntry: { key: object; map: WeakMap<object, object> } | undefined;
  var frozenTargets: object[] | undefined;
  var models: object | undefined;
}

function heldByCache(): TraceTarget {
  const target = new Leaky();
  globalThis.someCache = { items: [{}, {}, target] };
  return { ref: new WeakRef(target), label: 'Leaky cache' };
}

let interval: ReturnType<typeof setInterval> | undefined;
function heldByInterval(): TraceTarget {
  const held = new Leaky();
  interval = setInterval(function tick() {
    void held;
  }, 1_000_000);
  return { ref: new WeakRef(held), label: 'Leaky interval' };
}

function heldByListener(): TraceTarget {
  const captured = new Leaky();
  process.on('ormHmrTraceTest' as never, function onTraceTest() {
    void captured;
  });
  return { ref: new WeakRef(captured), label: 'Leaky listener' };
}

function heldWeakly(): TraceTarget {
  const target = new Leaky();
  const registry = new FinalizationRegistry(() => {});
  registry.register(target, 'held value', target);
  globalThis.weakHolders = { ref: new WeakRef(target), map: new WeakMap([[target, {}]]), set: new WeakSet([target]), registry };
  return { ref: new WeakRef(target), label: 'Leaky weak' };
}

function heldAsWeakMapValue(): TraceTarget {
  const target = new Leaky();
  const key = {};
  globalThis.weakMapEntry = { key, map: new WeakMap([[key, target]]) };
  return { ref: new WeakRef(target), label: 'Leaky WeakMap value' };
}

function heldFrozen(): TraceTarget {
  const target = Object.freeze(new Leaky());
  globalThis.frozenTargets = [target];
  return { ref: new WeakRef(target), label: 'Leaky frozen' };
}

function heldThroughAnotherTarget(): TraceTarget[] {
  const schema = new Leaky();
  const model = { schema };
  globalThis.models = { User: model };
  return [
    { ref: new WeakRef(model), label: 'Model User (generation 1)' },
    { ref: new WeakRef(schema), label: 'Schema User (generation 1)' },
  ];
}

function gone(): TraceTarget {
  return { ref: new WeakRef(new Leaky()), label: 'Leaky gone' };
}

describe('traceRetainers on this process', () => {
  const dir = join(tmp, 'node_modules', '.cache', 'orm-hmr');
  let report: TraceReport;
  let modes: number[];
  let before: ReturnType<typeof shape>[];
  let goneTarget: TraceTarget;

  beforeAll(async () => {
    goneTarget = gone();
    const targets = [heldByCache(), heldByInterval(), heldByListener(), heldWeakly(), heldAsWeakMapValue(), heldFrozen(), ...heldThroughAnotherTarget(), goneTarget];
    before = [shape(globalThis.frozenTargets![0]), shape(globalThis.someCache!.items[2])];
    // The file exists only during the call; a timer sees it while the reader's reads yield.
    modes = [];
    const watch = setInterval(() => {
      for (const name of existing(dir)) modes.push(statSync(join(dir, name)).mode & 0o777);
    }, 1);
    try {
      report = await traceRetainers(targets, { dir });
    } finally {
      clearInterval(watch);
    }
  });

  afterAll(() => {
    clearInterval(interval);
    process.removeAllListeners('ormHmrTraceTest' as never);
    globalThis.someCache = globalThis.weakHolders = globalThis.weakMapEntry = globalThis.frozenTargets = globalThis.models = undefined;
  });

  const result = (label: string) => report.find((r) => r.label === label)!;

  it('finds an object held by a global cache, as a property chain', () => {
    expect(result('Leaky cache')).toEqual({ label: 'Leaky cache', status: 'held', path: ['global.someCache.items[2]', 'Leaky cache'] });
  });

  it('finds an object captured by a setInterval callback, through the Timeout and the closure’s context', () => {
    const { status, path } = result('Leaky interval');
    expect(status).toBe('held');
    expect(path!.slice(-3)).toEqual(['closure tick', 'context.held', 'Leaky interval']);
    expect(path!.at(-4)).toMatch(/\._onTimeout$/);
  });

  it('finds an object captured by a process listener, through process._events', () => {
    const { status, path } = result('Leaky listener');
    expect(status).toBe('held');
    expect(path!.slice(-3)).toEqual(['closure onTraceTest', 'context.captured', 'Leaky listener']);
    expect(path!.at(-4)).toMatch(/\._events\.ormHmrTraceTest(\[\d+\])?$/);
  });

  it('reports an object held only by a WeakRef, a WeakMap key, a WeakSet and a FinalizationRegistry as not held', () => {
    expect(result('Leaky weak').path).toBeUndefined();
    expect(['collected', 'weakly-held']).toContain(result('Leaky weak').status);
    expect(result('Leaky gone')).toEqual({ label: 'Leaky gone', status: 'collected', path: undefined });
  });

  it('finds a WeakMap value through its entry while the key lives', () => {
    expect(result('Leaky WeakMap value').status).toBe('held');
    expect(result('Leaky WeakMap value').path!.at(-2)).toMatch(/^WeakMap entry \(key Object @\d+\)$/);
  });

  it('finds a frozen object, and leaves the targets as they were (no property added or left)', () => {
    expect(result('Leaky frozen').path).toEqual(['global.frozenTargets[0]', 'Leaky frozen']);
    expect([shape(globalThis.frozenTargets![0]), shape(globalThis.someCache!.items[2])]).toEqual(before);
  });

  it('names another target on the way by its label', () => {
    expect(result('Schema User (generation 1)').path).toEqual(['global.models.User', 'Model User (generation 1).schema', 'Schema User (generation 1)']);
  });

  it('reports sizes and times, and deletes the snapshot, which was 0600 while it existed', () => {
    expect(report.bytes).toBeGreaterThan(1_000_000);
    expect(report.ms).toBeGreaterThanOrEqual(report.snapshotMs);
    expect(report.snapshot).toBeUndefined();
    expect(modes.length).toBeGreaterThan(0);
    expect(new Set(modes)).toEqual(new Set([0o600]));
    expect(existing(dir)).toEqual([]);
  });

  it('leaves no marker behind: a later snapshot has none', async () => {
    const { file } = writeSnapshotFile(dir);
    try {
      const snapshot = await readHeapSnapshot(file);
      let markers = 0;
      // Instances only: the class, its code and its name string are part of the module.
      for (let node = 0; node < snapshot.nodeCount; node++) {
        if (snapshot.nodeType(node) === 'object' && snapshot.nodeName(node) === 'OrmHmrRetainerMark') markers++;
      }
      expect(markers).toBe(0);
    } finally {
      rmSync(file);
    }
  });

  it('takes no snapshot when every target is already gone', async () => {
    // The first trace's snapshot collected this one.
    const none = await traceRetainers([goneTarget], { dir, keep: true });
    expect([...none]).toEqual([{ label: 'Leaky gone', status: 'collected', path: undefined }]);
    expect(none.bytes).toBe(0);
    expect(none.snapshot).toBeUndefined();
    expect(existing(dir)).toEqual([]);
  });

  it('keeps the 0600 snapshot when asked, and returns its path', async () => {
    const kept = await traceRetainers([heldByCache()], { dir, keep: true });
    try {
      expect(kept.snapshot).toMatch(/\.heapsnapshot$/);
      expect(statSync(kept.snapshot!).mode & 0o777).toBe(0o600);
      expect(statSync(kept.snapshot!).size).toBe(kept.bytes);
      expect(kept[0].path).toEqual(['global.someCache.items[2]', 'Leaky cache']);
    } finally {
      rmSync(kept.snapshot!, { force: true });
    }
  });
});

function existing(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.heapsnapshot'));
  } catch {
    return [];
  }
}

function shape(value: object) {
  return { keys: Reflect.ownKeys(value), descriptors: Object.getOwnPropertyDescriptors(value), extensible: Object.isExtensible(value) };
}
