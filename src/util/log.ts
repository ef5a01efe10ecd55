import pc from 'picocolors';

/** Where user-facing lines go: the dev server's logger once a plugin connects one, else the console. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const tag = (colors: boolean) => pc.createColors(colors).cyan('[orm-hmr]');

export function consoleLogger(): Logger {
  return {
    info: (message) => console.log(`${tag(pc.isColorSupported)} ${message}`),
    warn: (message) => console.warn(`${tag(pc.isColorSupported)} ${pc.yellow(message)}`),
    error: (message) => console.error(`${tag(pc.isColorSupported)} ${pc.red(message)}`),
  };
}

/**
 * Debug output behind `DEBUG=orm-hmr` (or `orm-hmr:*`), built lazily: the message function only
 * runs when debugging is on.
 */
export function debug(message: () => string): void {
  if (!debugging()) return;
  console.error(`orm-hmr:debug ${message()}`);
}

/** `process.env` reads go to the C++ side: looked at once a second, since this runs per evaluation. */
let debugCheckedAt = -Infinity;
let debugOn = false;
function debugging(): boolean {
  const now = Date.now();
  if (now - debugCheckedAt > 1000) {
    debugCheckedAt = now;
    const value = globalThis.process?.env?.DEBUG;
    debugOn = !!value && /(^|,)\s*orm-hmr(:\*|\b)/.test(value);
  }
  return debugOn;
}
