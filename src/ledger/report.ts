import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * One reload batch, as written to the JSONL report (one object per line). A public format:
 * fields are only ever added, never renamed or removed. Sizes are bytes, times milliseconds.
 */
export interface ReloadRecord {
  /** 1-based count of reload batches in this process. */
  reload: number;
  /** ISO time the batch settled. */
  time: string;
  /** Files re-evaluated in this batch, project-relative, `/`-separated. */
  files: string[];
  /** Registrations removed before the files re-evaluated. */
  purged: { adapter: string; name: string }[];
  /** Bookkeeping time (listing, purging, restoring) summed over the batch's evaluations. */
  purgeMs: number;
  /** Files whose new evaluation threw; their previous generation was put back. */
  failed: string[];
  /** `process.memoryUsage()` after the GC. */
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  /** heapUsed minus the previous reload's, and minus the first reload's (0 on the first). */
  heapDelta: number;
  heapDeltaFromFirst: number;
  /** Whether a full GC ran before sampling (ours or V8's own), how long ours took and how many rounds. */
  gc: boolean;
  /**
   * What collected garbage before counting: `forced` (our full GC, run once the server served
   * nothing for a moment, or when `settled()` asked), `v8` (V8's own major GC left every model at
   * one generation: nothing forced), `none` (the `gc` option is off, or the server stayed busy).
   */
  gcBy?: 'forced' | 'v8' | 'none';
  gcMs: number;
  gcRounds: number;
  /** Live generations of each model after GC; 1 is healthy. */
  alive: Record<string, number>;
  /** Live evaluations of each tracked file after GC (its scope, closures, classes); 1 is healthy. */
  generations: Record<string, number>;
  /**
   * Registrations an adapter closed or reused when their file re-evaluated (connections, clients),
   * and what it dropped on its own (`dropped`: closed connections taken out of `mongoose.connections`).
   */
  released: { adapter: string; name: string; action: ReleaseAction }[];
  /** Timers, listeners, servers and sockets started while a tracked file evaluated, still live now. */
  sideEffects: SideEffectCount[];
  /** `ok`, or `leak` once a warning was given; `unknown` without a forced GC. */
  verdict: 'ok' | 'leak' | 'unknown';
  /** Leak warnings given at this reload (each leak is warned about once). */
  warnings: LeakWarning[];
  /** Leaks warned about earlier that stopped at this reload: their count stayed flat for `leakAfter` reloads. */
  stopped?: LeakStop[];
  /** With `trace`: the shortest strong path from a GC root to an old generation, one step per item. */
  retainerPath?: string[];
}

export interface LeakStop {
  kind: LeakWarning['kind'];
  subject: string;
  file?: string;
  message: string;
}

/** What an adapter did with a registration its file's new generation no longer holds. */
export type ReleaseAction = 'closed' | 'reused' | 'dropped';

export type SideEffectKind = 'setInterval' | 'setTimeout' | 'listener' | 'server' | 'socket';

export interface SideEffectCount {
  kind: SideEffectKind;
  /** The file that was evaluating when it started. */
  file: string;
  /** How many are live now. */
  count: number;
  /** What it is on, for listeners: `process 'exit'`. */
  target?: string;
}

export interface LeakWarning {
  /** What piles up: old generations of a model or file, a side effect, or the heap itself. */
  kind: 'generations' | 'side-effect' | 'heap';
  /** The model, file or `heap`. */
  subject: string;
  /** The file to look at, when known. */
  file?: string;
  /** Growth per reload: generations, side effects, or bytes for `heap`. */
  perReload: number;
  message: string;
}

/** Appends one record as one line; the folder is created on first use. */
export async function appendReport(path: string, record: ReloadRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, JSON.stringify(record) + '\n');
}
