import type { HeapSnapshot } from './heap-snapshot.ts';
import { ephemeronEdge, type RetainerPath } from './retainer-path.ts';

// Internal edges that only say how V8 lays an object out: the step they make is shown by the next one.
const NOISE_EDGES = new Set(['map', 'elements', 'properties', 'table', 'context', 'native_context', 'shared', 'code', 'feedback_cell']);
const CONTEXT = /^system \/ (?:Function|Script|Module|Block|Catch|With|Eval)?Context$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * A retainer path as short segments, each a starting point and what it takes from there:
 * `global.someCache.items[2]`, `closure tick`, `context.b`, `WeakMap entry (key Object @123)`.
 * Property names become `.name`, element and array slots `[3]`, a closure starts `closure <name>`,
 * the scope it holds `context` (followed by the variable); V8's layout steps (maps, backing
 * stores, `(system)` objects, GC root groups) are left out, keeping the root group the path starts
 * from when it is not a global object. Nodes in `labels` (by ordinal) are shown by their label.
 */
export function formatRetainerPath(snapshot: HeapSnapshot, path: RetainerPath, labels: ReadonlyMap<number, string> = new Map()): string[] {
  const segments: string[] = [];
  let current: string | undefined;
  const start = (segment: string) => {
    if (current !== undefined) segments.push(current);
    current = segment;
  };
  const append = (accessor: string) => {
    current = (current ?? '') + accessor;
  };

  path.edges.forEach((edge, step) => {
    const from = path.nodes[step];
    const to = path.nodes[step + 1];
    const type = snapshot.edgeType(edge);
    const name = snapshot.edgeName(edge);
    const toType = snapshot.nodeType(to);
    const toName = snapshot.nodeName(to);
    const last = step === path.edges.length - 1;
    // Root groups: keep the innermost one before the first real object, e.g. `(Global handles)`.
    if (step === 0) start(displayName(toType, toName));
    else if (snapshot.nodeType(from) === 'synthetic') {
      if (toType === 'synthetic') current = toName;
      else if (!last) start(displayName(toType, toName));
    }
    if (step === 0 || snapshot.nodeType(from) === 'synthetic') return;
    const ephemeron = type === 'internal' ? ephemeronEdge(String(name)) : undefined;
    if (ephemeron) {
      const key = /part of key \((.*?) @/.exec(ephemeron.pair)?.[1] ?? 'object';
      start(`WeakMap entry (key ${key} @${ephemeron.keyId})`);
      return;
    }
    let accessor = '';
    if (type === 'property') {
      const accessorPair = /^(get|set) (.+)$/.exec(String(name));
      if (accessorPair && toType === 'closure' && !last) {
        append(property(accessorPair[2]));
        start(accessorPair[1] === 'get' ? 'getter' : 'setter');
        return;
      }
      accessor = property(String(name));
    } else if (type === 'element') accessor = `[${name}]`;
    else if (type === 'context') accessor = property(String(name));
    else if (typeof name === 'number' || /^\d+$/.test(name)) {
      // A slot of a backing store; in a Map's or Set's hash table the index means nothing to users.
      const owner = step > 0 ? snapshot.nodeName(path.nodes[step - 1]) : '';
      accessor = snapshot.edgeName(path.edges[step - 1]) === 'table' && /^(Map|Set)$/.test(owner) ? '[entry]' : `[${name}]`;
      if (type === 'hidden' && !transparent(snapshot.nodeType(from), snapshot.nodeName(from))) accessor = '';
    } else if (!NOISE_EDGES.has(name)) accessor = property(name);

    // The target itself is the caller's label: no segment of its own.
    if (last) append(accessor);
    else if (labels.has(to)) {
      // Another target on the way (a model on the way to its schema) goes by its label too.
      append(accessor);
      start(labels.get(to)!);
    } else if (toType === 'closure') {
      append(accessor);
      start(`closure ${toName || '(anonymous)'}`);
    } else if (CONTEXT.test(toName)) {
      // Scope chains (a context's `previous`) fold into one `context`.
      if (current !== 'context') {
        append(accessor);
        start('context');
      }
    } else if (transparent(toType, toName)) append(accessor);
    else if (accessor) append(accessor);
    else start(displayName(toType, toName));
  });
  if (current !== undefined) segments.push(current);
  // The last segment ends on the target, which the caller labels.
  return segments;
}

/** V8's bookkeeping objects: a path goes through them but they mean nothing to a user. */
function transparent(type: string, name: string): boolean {
  if (type === 'array' || type === 'code' || type === 'object shape') return true;
  if (name === 'system / WeakCell') return false;
  return type === 'hidden' || name.startsWith('system / ');
}

function displayName(type: string, name: string): string {
  if (name === 'system / WeakCell') return 'FinalizationRegistry cell';
  if (type === 'closure') return `closure ${name || '(anonymous)'}`;
  if (type === 'string') return 'string';
  return name.replace(/^system \/ /, '') || `(${type})`;
}

function property(name: string): string {
  return IDENTIFIER.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}
