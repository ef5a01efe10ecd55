import { describe } from '../util/errors.ts';
import { labels, removeEntry, type OwnedEntry } from './entries.ts';
import { debug } from '../util/log.ts';
import type { Generation, ModuleRecord } from './module-record.ts';
import type { Owners } from './owners.ts';

/** What purging needs of the runtime; one object for every purge. */
export interface PurgeContext {
  owners: Owners;
  /** Stops the side effects of `file`'s previous generations if the `undoSideEffects` option says so; returns how many. */
  undoSideEffects(file: string): number;
  error(message: string): void;
}

/**
 * Removes what the record's live generation registered, newest first (a model before the
 * collection it created), after its `onUnload` callbacks (Zeitwerk's on_unload), and returns the
 * undo of each removal, in removal order: run backwards if the new evaluation throws.
 */
export function purge(record: ModuleRecord, file: string, context: PurgeContext): (() => void)[] {
  for (const callback of record.current?.unload ?? []) {
    try {
      callback();
    } catch (error) {
      context.error(`onUnload callback of ${file} threw: ${describe(error)}`);
    }
  }
  const undone = context.undoSideEffects(file);
  if (undone > 0) debug(() => `${file}: stopped ${undone} side effects of its previous generations`);
  const entries = record.current?.entries ?? [];
  const undo: (() => void)[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    undo.push(removeEntry(entry));
    context.owners.release(record, entry);
  }
  return undo;
}

/** An evaluation threw: remove what it registered, then put back what its prologue removed (each newest first). */
export function rollBack(failed: readonly OwnedEntry[], undo: readonly (() => void)[]): void {
  for (let i = failed.length - 1; i >= 0; i--) removeEntry(failed[i]!);
  for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
}

/** What a file's first failure in a row says: what of it stays registered meanwhile. */
export function failureLine(file: string, current: Generation | undefined): string {
  const kept = labels(current?.entries ?? []);
  return kept.length > 0
    ? `${file} threw while evaluating (or a module it imports did); kept the previous ${kept.join(', ')} (generation ${current!.number}) until it evaluates again`
    : `${file} threw while evaluating (or a module it imports did); nothing of it is registered until it evaluates again`;
}
