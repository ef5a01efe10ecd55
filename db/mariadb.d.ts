export declare const MISSING: string;
export declare function findMariadb(): { server: string; installDb: string } | undefined;
export interface Mariadb {
  url: string;
  port: number;
  stop(): Promise<void>;
}
export declare function startMariadb(options: { base: string; database: string; maxConnections?: number }): Promise<Mariadb>;
