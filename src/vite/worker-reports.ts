import type { ReloadRecord } from '../ledger/report.ts';
import { getRuntime } from '../runtime/hook.ts';

/**
 * Reload records from server code that runs in a worker thread of the dev server's process
 * (Nitro 3's dev worker): its runtime is its own (globalThis is per thread), so the ledger page,
 * in the main thread, hears its records on a BroadcastChannel named after the project root.
 */
const channelName = (root: string) => `orm-hmr:reports:${root}`;

type Threads = typeof import('node:worker_threads');
/** Synchronous and absent outside Node, so this module loads in any runtime. */
const threads = (globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined)?.getBuiltinModule?.('node:worker_threads') as Threads | undefined;

const FORWARDING = Symbol.for('orm-hmr.forwarding-reports');

/** In a worker thread: posts each of this thread's records to the main thread, once per thread. */
export function forwardReports(): void {
  if (!threads || threads.isMainThread) return;
  const slot = globalThis as { [FORWARDING]?: boolean };
  if (slot[FORWARDING]) return;
  slot[FORWARDING] = true;
  const runtime = getRuntime();
  const channel = new threads.BroadcastChannel(channelName(runtime.options.root));
  (channel as { unref?: () => void }).unref?.();
  runtime.ledger.onReport((record) => channel.postMessage(record));
}

/** In the main thread: the records of worker threads serving `root`, for the ledger page. */
export function workerReports(root: string): { onReport(listener: (record: ReloadRecord) => void): () => void } {
  return {
    onReport(listener) {
      if (!threads) return () => {};
      const channel = new threads.BroadcastChannel(channelName(root));
      (channel as { unref?: () => void }).unref?.();
      channel.onmessage = (event) => listener((event as { data: ReloadRecord }).data);
      return () => channel.close();
    },
  };
}
