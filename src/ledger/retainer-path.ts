import type { HeapSnapshot } from './heap-snapshot.ts';

/** A chain from the snapshot's root: `edges[i]` leads from `nodes[i]` to `nodes[i + 1]`. */
export interface RetainerPath {
  nodes: number[];
  edges: number[];
}

// A WeakMap value has two edges, from the table and from the key, named alike after an
// auto-index prefix. It is held only while both are, so (as DevTools does) only the second edge
// the search meets may reach it. The key's object id is in the name.
const EPHEMERON = /^\d+ \/ (part of key \(.*? @(\d+)\) -> value \(.*? @\d+\) pair in (?:WeakMap|EphemeronHashTable) \(table @\d+\))$/;

/** The shared part of an ephemeron edge's name and its key's id, or undefined for other edges. */
export function ephemeronEdge(name: string): { pair: string; keyId: number } | undefined {
  const match = EPHEMERON.exec(name);
  return match ? { pair: match[1], keyId: Number(match[2]) } : undefined;
}

/**
 * Shortest strong retainer paths from the root to each target node (ordinals), one breadth-first
 * search for all. Edges that do not retain are not followed:
 * - `weak` edges (WeakRef targets, WeakMap/WeakSet table slots, FinalizationRegistry cells'
 *   targets and unregister tokens, code's weak references);
 * - `shortcut` edges except the root's: elsewhere they repeat a path that exists anyway (a bound
 *   function's arguments), the root's mark the global objects (DevTools and memlab do the same);
 * - the first of a WeakMap value's two edges (see above).
 * Paths through meaningful objects are preferred in two ways: the global objects are searched from
 * first and GC roots (handles, stack, the embedder's objects) only for what they leave unreached, as
 * DevTools does; and within one distance, property, element and context-variable edges are taken
 * before internal and hidden ones.
 */
export function shortestRetainerPaths(snapshot: HeapSnapshot, targets: number[]): (RetainerPath | undefined)[] {
  const count = snapshot.nodeCount;
  const root = 0;
  const parent = new Int32Array(count).fill(-1);
  const via = new Int32Array(count).fill(-1);
  const seen = new Uint8Array(count);
  const queue = new Uint32Array(count);
  const types = snapshot.edgeTypes;
  const weak = types.indexOf('weak');
  const shortcut = types.indexOf('shortcut');
  const internal = types.indexOf('internal');
  const meaningful = new Uint8Array(types.length);
  for (const name of ['property', 'element', 'context']) if (types.includes(name)) meaningful[types.indexOf(name)] = 1;
  // Per string index: 0 not looked at, 1 not an ephemeron name, 2 one (its pair key in `pairs`).
  const ephemeronName = new Uint8Array(snapshot.strings.length);
  const pairs = new Map<number, string>();
  const pending = new Set<string>();
  const { firstEdge, edgeFieldCount } = snapshot;

  let tail = 0;
  const search = (head: number) => {
    while (head < tail) {
      const levelEnd = tail;
      for (let pass = 1; pass >= 0; pass--) {
        for (let q = head; q < levelEnd; q++) {
          const node = queue[q];
          for (let edge = firstEdge[node]; edge < firstEdge[node + 1]; edge += edgeFieldCount) {
            const type = snapshot.edgeTypeIndex(edge);
            if (meaningful[type] !== pass || type === weak || (type === shortcut && node !== root)) continue;
            const child = snapshot.edgeTarget(edge);
            if (seen[child]) continue;
            if (type === internal) {
              const nameIndex = snapshot.edgeNameIndex(edge);
              if (ephemeronName[nameIndex] === 0) {
                const pair = ephemeronEdge(snapshot.strings.get(nameIndex))?.pair;
                ephemeronName[nameIndex] = pair === undefined ? 1 : 2;
                if (pair !== undefined) pairs.set(nameIndex, pair);
              }
              if (ephemeronName[nameIndex] === 2) {
                const pair = pairs.get(nameIndex)!;
                if (!pending.delete(pair)) {
                  pending.add(pair);
                  continue;
                }
              }
            }
            seen[child] = 1;
            parent[child] = node;
            via[child] = edge;
            queue[tail++] = child;
          }
        }
      }
      head = levelEnd;
    }
    return head;
  };

  // Phase 1: from the global objects (the root's shortcut edges to non-synthetic nodes).
  seen[root] = 1;
  for (let edge = firstEdge[root]; edge < firstEdge[root + 1]; edge += edgeFieldCount) {
    const child = snapshot.edgeTarget(edge);
    if (snapshot.edgeTypeIndex(edge) !== shortcut || seen[child] || snapshot.nodeType(child) === 'synthetic') continue;
    seen[child] = 1;
    parent[child] = root;
    via[child] = edge;
    queue[tail++] = child;
  }
  const head = search(0);
  // Phase 2: whatever only GC roots reach.
  queue[tail++] = root;
  search(head);

  return targets.map((target) => {
    if (!seen[target] || target === root) return undefined;
    const nodes = [target];
    const edges: number[] = [];
    for (let node = target; node !== root; node = parent[node]) {
      edges.push(via[node]);
      nodes.push(parent[node]);
    }
    return { nodes: nodes.reverse(), edges: edges.reverse() };
  });
}
