// webpack, Next.js and Turbopack load loaders with require(); our code is ESM, so this CommonJS
// shim imports it and forwards. Kept to the loader API both bundlers support.
type Callback = (error: Error | null, code?: string, map?: unknown) => void;
interface Context {
  async(): Callback;
  resourcePath: string;
  sourceMap?: boolean;
  getOptions(): never;
}

function ormHmrLoader(this: Context, code: string, map?: unknown): void {
  const callback = this.async();
  import('./loader.js').then(
    ({ load }) => {
      const result = load(this, code, map);
      callback(null, result.code, result.map);
    },
    (error: Error) => callback(error),
  );
}

export = ormHmrLoader;
