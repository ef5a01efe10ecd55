export declare const MISSING: string;
export declare function findPostgres(): string | undefined;
export interface Postgres {
  url: string;
  port: number;
  stop(): void;
}
export declare function startPostgres(options: { base: string; database: string; maxConnections?: number }): Promise<Postgres>;
