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
  /** Whether a full GC ran before sampling, how long it took and how many rounds. */
  gc: boolean;
  gcMs: number;
  gcRounds: number;
  /** Live generations of each model after GC; 1 is healthy. */
  alive: Record<string, number>;
}

/** Appends one record as one line; the folder is created on first use. */
export async function appendReport(path: string, record: ReloadRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, JSON.stringify(record) + '\n');
}
