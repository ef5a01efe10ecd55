/**
 * Replaces `owner[key]` with `wrap(original)` and returns the undo. The undo puts the original back
 * when our wrapper is still in place; when something wrapped ours since, it turns ours into a plain
 * pass-through instead, so the other wrapper keeps working. Symbols on the original
 * (`util.promisify.custom`) are copied, so `promisify(setTimeout)` still works.
 */
export function patchMethod<T extends object, K extends keyof T>(owner: T, key: K, wrap: (original: T[K]) => T[K]): () => void {
  const original = owner[key];
  if (typeof original !== 'function') return () => {};
  let active = true;
  const wrapped = wrap(original);
  const call = function (this: unknown, ...args: unknown[]) {
    return ((active ? wrapped : original) as (...a: unknown[]) => unknown).apply(this, args);
  } as T[K];
  for (const symbol of Object.getOwnPropertySymbols(original)) {
    (call as Record<symbol, unknown>)[symbol] = (original as Record<symbol, unknown>)[symbol];
  }
  Object.defineProperty(call, 'name', { value: (original as { name?: string }).name ?? String(key) });
  owner[key] = call;
  return () => {
    if (owner[key] === call) owner[key] = original;
    else active = false;
  };
}

/** A wrapper made once and put in place or taken out many times (cheap: two property writes). */
export interface Swap {
  install(): void;
  uninstall(): void;
}

/**
 * Like {@link patchMethod}, for a patch that comes and goes: the wrapper is made once. `install`
 * only replaces the function it was made for (something else wrapped it since: left alone), and
 * `uninstall` only takes out our own wrapper.
 */
export function prepareSwap<T extends object, K extends keyof T>(owner: T, key: K, wrap: (original: T[K]) => T[K]): Swap {
  const original = owner[key];
  if (typeof original !== 'function') return { install() {}, uninstall() {} };
  const wrapped = wrap(original);
  for (const symbol of Object.getOwnPropertySymbols(original)) {
    (wrapped as Record<symbol, unknown>)[symbol] = (original as Record<symbol, unknown>)[symbol];
  }
  Object.defineProperty(wrapped, 'name', { value: (original as { name?: string }).name ?? String(key) });
  return {
    install() {
      if (owner[key] === original) owner[key] = wrapped;
    },
    uninstall() {
      if (owner[key] === wrapped) owner[key] = original;
    },
  };
}
