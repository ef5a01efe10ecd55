export declare const binaryPath: string;
export declare function buildFerretDB(): Promise<string>;
export interface Database {
  uri: string;
  stop: () => Promise<void>;
  embedded: boolean;
}
export declare function startDatabase(options: { dir: string; database?: string }): Promise<Database>;
/** Thrown when the embedded database cannot be built (no Go): its message says what to do; its stack is that message. */
export declare class DatabaseUnavailable extends Error {}
