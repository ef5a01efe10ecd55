export declare const binaryPath: string;
export declare function buildFerretDB(): string;
export interface Database {
  uri: string;
  stop: () => Promise<void>;
  embedded: boolean;
}
export declare function startDatabase(options: { dir: string; database?: string }): Promise<Database>;
