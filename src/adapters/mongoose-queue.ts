import type { Entry } from './types.ts';

/** An element of an unconnected connection's `_queue`: `{ fn }` (Mongoose 9), `{ fn, ctx, args }` (8); `_flushQueue` calls `fn.apply(ctx, args)` on open. */
interface QueueElement {
  fn: (...args: unknown[]) => unknown;
  ctx?: unknown;
  args?: unknown[];
}

/** What a removed element runs instead, if the connection opens before the queue is compacted. */
function skip(): void {}

/** Elements skipped per queue, and the queues skipped in since the last compaction. */
const skippedCount = new WeakMap<unknown[], number>();
const touched = new Set<unknown[]>();

/**
 * Before the first connect, each model's init waits in the connection's `_queue` and holds the
 * model. Taking a file's element out of the array is a search and a splice of a queue as long as
 * the app's models: with 1000 model files, a batch that re-evaluates them all pays that 1000
 * times. Its function is swapped for a no-op instead (the model is freed at once), and the queue
 * is compacted in one pass once no-ops make half of it.
 */
export class QueuedInit implements Entry {
  constructor(
    readonly container: unknown[],
    readonly value: QueueElement,
  ) {}

  remove(): () => void {
    const element = this.value;
    const { fn, ctx, args } = element;
    if (fn === skip) return () => {};
    element.fn = skip;
    if ('ctx' in element) element.ctx = undefined;
    if ('args' in element) element.args = undefined;
    const queue = this.container;
    skippedCount.set(queue, (skippedCount.get(queue) ?? 0) + 1);
    touched.add(queue);
    return () => {
      if (element.fn !== skip) return;
      Object.assign(element, { fn }, 'ctx' in element && { ctx }, 'args' in element && { args });
      skippedCount.set(queue, (skippedCount.get(queue) ?? 1) - 1);
      // Compacted out meanwhile: queued again, last.
      if (!queue.includes(element)) queue.push(element);
    };
  }
}

/** Whether a queue element can be handled as a {@link QueuedInit} (otherwise it is removed from the array). */
export function isQueueElement(value: unknown): value is QueueElement {
  return typeof value === 'object' && value !== null && typeof (value as QueueElement).fn === 'function';
}

/** Whether the element was removed (a no-op waiting for compaction): not a registration to list. */
export function isSkipped(value: unknown): boolean {
  return (value as QueueElement | undefined)?.fn === skip;
}

/** Drops the no-ops of queues where they make half or more (after a commit: no removal of those can be undone any more). */
export function compactQueues(): void {
  for (const queue of touched) {
    const skipped = skippedCount.get(queue) ?? 0;
    if (skipped * 2 < queue.length) continue;
    let kept = 0;
    for (const element of queue) if (!isSkipped(element)) queue[kept++] = element;
    queue.length = kept;
    skippedCount.delete(queue);
  }
  touched.clear();
}
