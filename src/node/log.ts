import pc from 'picocolors';
import type { Logger } from 'vite';

export const tag = pc.cyan('[orm-hmr]');

/** An evaluation's error as we print it once. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { frame, plugin } = error as Error & { frame?: string; plugin?: string };
  // A save that does not compile: the message has the code frame, Vite's own stack says nothing.
  if (plugin) return frame && !error.message.includes(frame) ? `${error.message}\n${frame}` : error.message;
  // A throw: its stack, source-mapped by the module runner, without the runner's own frames.
  return (error.stack ?? error.message)
    .split('\n')
    .filter((line) => !/^\s+at .*[\\/]node_modules[\\/]vite[\\/]dist[\\/]/.test(line))
    .join('\n');
}

/** Vite's logger with our tag instead of `[vite]`; the plugin's lines already carry the tag. */
export function devLogger(v: typeof import('vite')): Logger {
  const base = v.createLogger('info', { allowClearScreen: false, prefix: '[orm-hmr]' });
  const untag = (message: string) => (message.startsWith(`${tag} `) ? message.slice(tag.length + 1) : message);
  return {
    ...base,
    info: (message, o) => base.info(untag(message), o),
    warn: (message, o) => base.warn(untag(message), o),
    warnOnce: (message, o) => base.warnOnce(untag(message), o),
    error: (message, o) => base.error(untag(message), o),
  };
}

