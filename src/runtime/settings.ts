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
  for (const adapter of resolved.adapters) runtime.use(adapter);
  const report = resolved.report ? (isAbsolute(resolved.report) ? resolved.report : resolve(root, resolved.report)) : undefined;
  runtime.configure({ root, logger, report, gc: resolved.gc, settleMs: resolved.settleMs, memoryLine: resolved.memoryLine });
  setEnv('ORM_HMR_ROOT', root);
  setEnv('ORM_HMR_REPORT', report);
  setEnv('ORM_HMR_GC', resolved.gc === undefined ? undefined : resolved.gc ? '1' : '0');
  setEnv('ORM_HMR_SETTLE_MS', resolved.settleMs === undefined ? undefined : String(resolved.settleMs));
  setEnv('ORM_HMR_MEMORY_LINE', resolved.memoryLine ? undefined : '0');
}

function setEnv(name: string, value: string | undefined): void {
  if (value !== undefined) process.env[name] = value;
}
