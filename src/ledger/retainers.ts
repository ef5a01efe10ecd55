import { rmSync } from 'node:fs';
import { setImmediate as settle } from 'node:timers/promises';
import { readHeapSnapshot, type HeapSnapshot } from './heap-snapshot.ts';
import { ephemeronEdge, shortestRetainerPaths, type RetainerPath } from './retainer-path.ts';
import { formatRetainerPath } from './retainer-format.ts';
import { writeSnapshotFile } from './snapshot-file.ts';

export interface TraceTarget {
  /** The caller holds its old generations this way only; we never keep a strong reference either. */
  ref: WeakRef<object>;
  /** The path's last step, e.g. `Schema User (generation 4)`. */
  label: string;
}

export interface TraceOptions {
  /** Folder for the snapshot file (created 0700 if missing), e.g. `node_modules/.cache/orm-hmr`. */
  dir: string;
  /** Keep the snapshot file (its path is returned as `snapshot`) instead of deleting it. */
  keep?: boolean;
}

/**
 * - `held`: a strong path from a GC root reaches it; `path` is that path.
 * - `collected`: gone (the snapshot's own full GC may be what collected it).
 * - `weakly-held`: alive in the snapshot, but only weak edges reach it (it goes at the next GC).
 * - `not-found`: alive but not recognised in the snapshot (could not be marked, or V8 changed how
 *   it reports WeakMap entries).
 */
export type TraceStatus = 'held' | 'collected' | 'weakly-held' | 'not-found';

export interface TraceResult {
  label: string;
  status: TraceStatus;
  /** Compact steps from a root, the last one being `label`; join with ` -> ` to print. */
  path: string[] | undefined;
}

export type TraceReport = TraceResult[] & {
  /** The snapshot file, when `keep` was set. */
  snapshot?: string;
  /** Total time, and the part of it V8 spent writing the snapshot (the event loop is blocked then). */
  ms: number;
  snapshotMs: number;
  /** Size of the snapshot file. */
  bytes: number;
};

/** Our marker's class name: it names the marker nodes in the snapshot. */
class OrmHmrRetainerMark {}

/**
 * "Who holds it": one heap snapshot of this process, and for each target the shortest strong
 * retainer path from a GC root, e.g. `global.cache.items[2] -> closure init -> context.schema ->
 * Schema User (generation 4)`. Results are in the order of `targets`. When every target is
 * already gone, no snapshot is taken.
 *
 * Targets are recognised without touching them: each becomes the key of an entry in a WeakMap of
 * ours whose value is a marker object carrying a unique property name. V8 reports a WeakMap entry
 * as an edge from the key to the value, so the marker leads to its target; the WeakMap holds
 * neither strongly, and its entries are deleted once the snapshot is written.
 *
 * Costly: V8 stops the process while it writes the snapshot (seconds per 100 MB of heap) and needs
 * several times the heap in memory to build it; run it on demand, not after every reload.
 */
export async function traceRetainers(targets: TraceTarget[], options: TraceOptions): Promise<TraceReport> {
  const start = performance.now();
  const marks = new WeakMap<object, OrmHmrRetainerMark>();
  const tags = markTargets(targets, marks);
  // Nothing alive to look for: no snapshot (the costly part) at all.
  if (tags.every((tag) => tag === undefined)) {
    const results = targets.map(({ label }): TraceResult => ({ label, status: 'collected', path: undefined }));
    return Object.assign(results, { ms: performance.now() - start, snapshotMs: 0, bytes: 0 });
  }
  // deref() keeps a target alive until the current job ends (and that would show as a root):
  // write the snapshot in a later one.
  await settle();
  const snapshotStart = performance.now();
  const { file, bytes } = writeSnapshotFile(options.dir);
  const snapshotMs = performance.now() - snapshotStart;
  unmarkTargets(targets, marks);
  let snapshot: HeapSnapshot;
  try {
    snapshot = await readHeapSnapshot(file);
  } finally {
    if (!options.keep) rmSync(file, { force: true });
  }
  const found = findMarked(snapshot, tags);
  const paths = shortestRetainerPaths(snapshot, found.filter((ordinal) => ordinal >= 0));
  const labels = new Map<number, string>();
  found.forEach((ordinal, index) => ordinal >= 0 && labels.set(ordinal, targets[index].label));
  let next = 0;
  const results = targets.map((target, index): TraceResult => {
    const ordinal = found[index];
    if (ordinal < 0) {
      return { label: target.label, status: target.ref.deref() === undefined ? 'collected' : 'not-found', path: undefined };
    }
    const path: RetainerPath | undefined = paths[next++];
    if (!path) return { label: target.label, status: 'weakly-held', path: undefined };
    return { label: target.label, status: 'held', path: [...formatRetainerPath(snapshot, path, labels), target.label] };
  });
  return Object.assign(results, {
    ...(options.keep ? { snapshot: file } : {}),
    ms: performance.now() - start,
    snapshotMs,
    bytes,
  });
}

/**
 * Sync on purpose: an async function's locals live on across an await in its generator object,
 * which would be one more retainer of every target. Returns the marker property name per target
 * (undefined when the target is gone or cannot be a WeakMap key).
 */
function markTargets(targets: TraceTarget[], marks: WeakMap<object, OrmHmrRetainerMark>): (string | undefined)[] {
  const nonce = Math.random().toString(36).slice(2, 10);
  return targets.map((target, index) => {
    const value = target.ref.deref();
    if (value === undefined) return undefined;
    const tag = `ormHmrRetainerMark_${nonce}_${index}`;
    const mark = new OrmHmrRetainerMark();
    // An object value, so the snapshot has an edge named `tag` (small integers have no node).
    Object.defineProperty(mark, tag, { value: marks });
    try {
      marks.set(value, mark);
    } catch {
      return undefined;
    }
    return tag;
  });
}

function unmarkTargets(targets: TraceTarget[], marks: WeakMap<object, OrmHmrRetainerMark>): void {
  for (const target of targets) {
    const value = target.ref.deref();
    if (value !== undefined) marks.delete(value);
  }
}

/** Ordinal of each marked target in the snapshot, or -1. */
function findMarked(snapshot: HeapSnapshot, tags: (string | undefined)[]): number[] {
  // Tags by their index in `strings` (the snapshot stores each distinct string once).
  const byName = new Map<number, number>();
  const byTag = new Map(tags.map((tag, index) => [tag, index]));
  const prefix = tags.find((tag) => tag !== undefined)?.replace(/\d+$/, '');
  for (const [string, nameIndex] of prefix ? snapshot.strings.startingWith(prefix) : []) {
    const index = byTag.get(string);
    if (index !== undefined) byName.set(nameIndex, index);
  }
  const markers = new Map<number, number>();
  const property = snapshot.edgeTypes.indexOf('property');
  const markName = OrmHmrRetainerMark.name;
  const { firstEdge, edgeFieldCount } = snapshot;
  for (let node = 0; node < snapshot.nodeCount && byName.size > 0; node++) {
    for (let edge = firstEdge[node]; edge < firstEdge[node + 1]; edge += edgeFieldCount) {
      if (snapshot.edgeTypeIndex(edge) !== property) continue;
      const index = byName.get(snapshot.edgeNameIndex(edge));
      if (index !== undefined && snapshot.nodeName(node) === markName) markers.set(node, index);
    }
  }
  const found = tags.map(() => -1);
  if (markers.size === 0) return found;
  const isMarker = new Uint8Array(snapshot.nodeCount);
  for (const node of markers.keys()) isMarker[node] = 1;
  for (let node = 0; node < snapshot.nodeCount; node++) {
    for (let edge = firstEdge[node]; edge < firstEdge[node + 1]; edge += edgeFieldCount) {
      // Any edge type: V8 files these as internal today, the name is what identifies them.
      if (!isMarker[snapshot.edgeTarget(edge)]) continue;
      const index = markers.get(snapshot.edgeTarget(edge))!;
      // Of the entry's two edges to the marker, the key's: the one from the node the name says.
      const name = snapshot.edgeName(edge);
      const ephemeron = typeof name === 'string' ? ephemeronEdge(name) : undefined;
      if (ephemeron && ephemeron.keyId === snapshot.nodeId(node)) found[index] = node;
    }
  }
  return found;
}
