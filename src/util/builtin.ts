/**
 * A Node built-in module, through `process.getBuiltinModule`: a bundler that sees `require(...)` or
 * `createRequire(...)` in our code (webpack does) replaces it, and a fallback would silently find
 * nothing. Undefined outside Node.
 */
export function builtin<T>(name: `node:${string}`): T | undefined {
  return globalThis.process?.getBuiltinModule?.(name) as T | undefined;
}
