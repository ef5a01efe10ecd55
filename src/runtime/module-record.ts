import type { Adapter } from '../adapters/types.ts';
import type { OwnedEntry, SlotMap } from './entries.ts';

/**
 * One per tracked module id (the file path, without `?t=` stamps), like React Refresh's family:
 * the record stays, `current` advances with each successful evaluation.
 */
export interface ModuleRecord {
  readonly id: string;
  /** What the last successful evaluation registered. Holds the live generation, nothing older. */
  current?: Generation;
  /** The evaluation under way; cleared when it commits or fails. */
  pending?: Evaluation;
  /** Evaluations started, successful or not; numbers generations. */
  evaluations: number;
  /** Failures in a row; the error line is printed once per streak. */
  failures: number;
  /** Source hash of the last successful evaluation, when the transform gave one. */
  version?: string;
  /** The code version of the last failed evaluation: the same code failing again is no new reload. */
  failedVersion?: string;
}

/** What one successful evaluation of a file registered. */
export interface Generation {
  readonly number: number;
  /** In registration order; removal goes newest first (a model before the collection it created). */
  entries: OwnedEntry[];
  /** `onUnload` callbacks registered during this evaluation, run before the next one. */
  readonly unload: (() => void)[];
}

/** An evaluation between its prologue and its epilogue. */
export interface Evaluation {
  readonly record: ModuleRecord;
  readonly number: number;
  /** What adapters reported while the body ran, in order; a slot reported twice is one entry (see registeredBy). */
  journal: OwnedEntry[];
  /** For adapters that do not report: their entries' values before the body ran; what differs afterwards is this file's. */
  before: Map<Adapter, SlotMap<unknown>>;
  /** The previous generation's entries, removed in the prologue; put back if this evaluation fails. */
  purged: OwnedEntry[];
  /** Undo functions for the removals, in removal order. */
  undo: (() => void)[];
  readonly unload: (() => void)[];
  /** Time spent in our own bookkeeping so far, ms. */
  bookkeepingMs: number;
  /** The module has top-level await: its body goes on in later jobs, among other code. */
  readonly async: boolean;
  /** A hash of the module's code, from the transform. */
  readonly version: string | undefined;
  /** CommonJS modules being evaluated for the first time when this one started (see SideEffects). */
  loading: number;
  /** Its body runs now: false once a module with top-level await has left its synchronous start. */
  synchronous: boolean;
}

/** What `enter()` hands back to the module; the epilogue calls `commit()`. */
export interface EvaluationHandle {
  /** `scope` is a closure over the module's top level; the runtime never calls or keeps it. */
  commit(scope?: () => unknown): void;
}

export interface EnterOptions {
  /** Namespaces of adapter packages the module imports, by specifier. */
  imports?: Record<string, unknown>;
  /** The file each of those resolved to, where the transform knew it: `namespaceAt()` hands it back next time. */
  at?: Record<string, string>;
  /** The module has top-level await: its epilogue may run in a later job. */
  async?: boolean;
  /** A hash of the module's code: a failing module run again unchanged is not a new reload. */
  version?: string;
}
