import { isAbsolute, resolve } from 'node:path';
import type { ResolvedOptions } from '../options.ts';
import { getRuntime } from './hook.ts';
import type { Logger } from './log.ts';

/**
 * Hands the plugin options to the runtime of this process, and to the app's process when it is
 * another one (NestJS's run-script plugin forks it, Next.js may serve from a child): forked
 * processes inherit the environment, and the runtime reads its settings from there first.
 */
export function applySettings(resolved: ResolvedOptions, root: string, logger?: Logger): void {
  const runtime = getRuntime();
  runtime.chooseAdapters(resolved.adapters ?? runtime.defaultAdapters);
  // Unset options mean the defaults, not what a previous dev server in this process was given.
  const { defaults } = runtime;
  const report = resolved.report ? (isAbsolute(resolved.report) ? resolved.report : resolve(root, resolved.report)) : resolved.report ?? defaults.report;
  const settings = {
    root,
    report,
    gc: resolved.gc ?? defaults.gc,
    settleMs: resolved.settleMs ?? defaults.settleMs,
    memoryLine: resolved.memoryLine,
    undoSideEffects: resolved.undoSideEffects ?? defaults.undoSideEffects,
    leakAfter: resolved.leakAfter ?? defaults.leakAfter,
    trace: resolved.trace ?? defaults.trace,
  };
  runtime.configure({ ...settings, logger });
  setEnv('ORM_HMR_ROOT', root);
  setEnv('ORM_HMR_REPORT', report || '');
  setEnv('ORM_HMR_GC', settings.gc ? '1' : '0');
  setEnv('ORM_HMR_SETTLE_MS', String(settings.settleMs));
  setEnv('ORM_HMR_MEMORY_LINE', settings.memoryLine ? '1' : '0');
  setEnv('ORM_HMR_UNDO_SIDE_EFFECTS', settings.undoSideEffects ? '1' : '0');
  setEnv('ORM_HMR_LEAK_AFTER', String(settings.leakAfter));
  setEnv('ORM_HMR_TRACE', settings.trace === 'keep' ? 'keep' : settings.trace ? '1' : '0');
  // Adapter objects cannot cross a process boundary: a forked app gets the built-in names and
  // registers its own adapters with useAdapter().
  setEnv('ORM_HMR_ADAPTERS', (resolved.adapters ?? runtime.defaultAdapters).filter((a) => typeof a === 'string').join(','));
}

function setEnv(name: string, value: string | undefined): void {
  if (value !== undefined) process.env[name] = value;
}
