/**
 * `orm-hmr/runtime`: what runs inside the app. The injected prologue calls `enter()`, the epilogue
 * calls `commit()` on what it returned. No bundler imports here.
 */
import type { Adapter } from '../adapters/types.ts';
import type { ReloadRecord } from '../ledger/report.ts';
import { getRuntime } from './hook.ts';
import type { RuntimeOptions } from './config.ts';
import type { EnterOptions, EvaluationHandle } from './runtime.ts';

export type { EnterOptions, EvaluationHandle } from './runtime.ts';
export type { RuntimeOptions } from './config.ts';
export type { ReloadRecord } from '../ledger/report.ts';

/** The prologue: purges what module `id` registered last time, then records what it registers now. */
export function enter(id: string, options?: EnterOptions): EvaluationHandle {
  return getRuntime().enter(id, options);
}

/** For the prologue: the namespace a module imported from `file` (a resolved path) before, if any. */
export function namespaceAt(file: string): unknown {
  return getRuntime().namespaceAt(file);
}

/**
 * Registers `callback` to run right before the calling module evaluates again (or its file is
 * deleted), like Zeitwerk's `on_unload`. Call it at the top level of a tracked module, for
 * registries no adapter covers: clear a timer, unsubscribe a listener.
 */
export function onUnload(callback: () => void): void {
  getRuntime().onUnload(callback);
}

/** Drops what a deleted file registered. */
export function unload(id: string): void {
  getRuntime().unload(id);
}

/** Adds (or replaces, by name) an adapter. */
export function useAdapter(adapter: Adapter): void {
  getRuntime().host.use(adapter);
}

/** Changes runtime settings (the plugins call it with their resolved options). */
export function configure(options: Partial<RuntimeOptions>): void {
  getRuntime().configure(options);
}

/** Calls `listener` with each reload record after it is measured. Returns the unsubscribe. */
export function onReport(listener: (record: ReloadRecord) => void): () => void {
  return getRuntime().ledger.onReport(listener);
}

/** Measures the pending reload batch now instead of after the quiet period; resolves with its record. */
export function settled(): Promise<ReloadRecord | undefined> {
  return getRuntime().ledger.settled();
}

/** Live generations per model name, counted without forcing a GC. */
export function aliveGenerations(): Record<string, number> {
  return getRuntime().ledger.generations.count();
}
