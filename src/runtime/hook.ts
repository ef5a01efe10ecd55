import { Runtime } from './runtime.ts';

const KEY = Symbol.for('orm-hmr.runtime');

/**
 * The one runtime of the process. The dev server's plugin and the app's modules may load two
 * copies of this file (native import and the bundler's own evaluation); both must see one
 * registry, so it lives on globalThis, like React Refresh's global hook.
 */
export function getRuntime(): Runtime {
  const slot = globalThis as { [KEY]?: Runtime };
  let runtime = slot[KEY];
  if (!runtime) {
    runtime = slot[KEY] = new Runtime();
    // Production tripwire: the plugins never inject us into production builds. If we are loaded
    // there anyway, do nothing rather than hold references or force GCs in a live server.
    if (globalThis.process?.env?.NODE_ENV === 'production') {
      runtime.disabled = true;
      runtime.options.logger.warn('the runtime was loaded with NODE_ENV=production; it does nothing there. Remove orm-hmr from production builds.');
    }
  }
  return runtime;
}
