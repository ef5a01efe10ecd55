import type { OrmHmrOptions } from '../options.ts';

/** What the supervisor (cli.ts) hands the app's process, as JSON in `ORM_HMR_DEV`. */
export interface DevOptions {
  /** The app's entry, relative to the working directory. */
  entry: string;
  /** The app's own arguments: its `process.argv.slice(2)`. */
  args: string[];
  /** The ledger page: a port of its own (0: any free one), on the app's port, or none. */
  page: number | 'app' | 'off';
  /** A Vite config file to load (plugins, aliases); by default none. */
  config?: string;
  /** `--env-file` (and `--env-file-if-exists`) files given to Node: a change restarts the process. */
  envFiles: string[];
  /** `--conditions` given to Node: Vite resolves the app's own imports with them too. */
  conditions: string[];
  /** `ormHmr()` options. */
  plugin: OrmHmrOptions;
}

/** Messages from the app's process to the supervisor. */
export type ToSupervisor =
  | { type: 'restart'; reason: string }
  /** Nothing to retry (Vite is missing): the supervisor exits too. */
  | { type: 'fatal' };
