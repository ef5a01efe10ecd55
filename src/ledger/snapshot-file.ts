import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

/**
 * Writes a heap snapshot of this process to a new file in `dir` and returns its path and size.
 *
 * The file holds every string of the heap (tokens, passwords in config objects), so it is created
 * empty with mode 0600 and an exclusive open before V8 writes to it; V8 truncates it and keeps the
 * mode. `writeHeapSnapshot` serialises from C++ straight into the file: `getHeapSnapshot()` would
 * push the whole JSON text through a JS stream, whose buffer fills faster than the disk drains it.
 * It blocks the event loop for as long as the snapshot takes (seconds on a large heap).
 */
export function writeSnapshotFile(dir: string): { file: string; bytes: number } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `retainers-${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}.heapsnapshot`);
  closeSync(openSync(file, 'wx', 0o600));
  try {
    writeHeapSnapshot(file);
    return { file, bytes: statSync(file).size };
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  }
}
