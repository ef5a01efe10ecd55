import type { SideEffects } from '../ledger/side-effects.ts';
import type { Evaluation } from './module-record.ts';

const RESOLVED = Promise.resolve();

/**
 * The evaluations between their prologue and their epilogue, innermost last, and while Node's
 * functions are watched for side effects. A body without top-level await runs in the job that
 * entered it: if its epilogue has not run right after that job, it threw (one check for all the
 * bodies of a job). A module with top-level await goes on in later jobs, between other code's:
 * side effects are only attributed during its synchronous start, which ends with that job.
 */
export class EvaluationStack {
  readonly #stack: Evaluation[] = [];
  /** Evaluations without top-level await entered in the current job (see #afterJob). */
  readonly #enteredThisJob: Evaluation[] = [];
  readonly #sideEffects: SideEffects;
  readonly #threw: (evaluation: Evaluation) => void;

  /** `threw` is called with each evaluation found pending after its job. */
  constructor(sideEffects: SideEffects, threw: (evaluation: Evaluation) => void) {
    this.#sideEffects = sideEffects;
    this.#threw = threw;
  }

  /** The module whose body runs now, if any: registrations and side effects belong to it. */
  get innermost(): Evaluation | undefined {
    return this.#stack.at(-1);
  }

  push(evaluation: Evaluation): void {
    this.#sideEffects.watch();
    evaluation.loading = this.#sideEffects.loading;
    this.#stack.push(evaluation);
    if (evaluation.async) {
      queueMicrotask(() => {
        evaluation.synchronous = false;
        this.#unwatchWhenIdle();
      });
    } else if (this.#enteredThisJob.push(evaluation) === 1) {
      // A promise reaction, not queueMicrotask (which makes an AsyncResource each time): same queue.
      RESOLVED.then(this.#afterJob);
    }
  }

  /** The evaluation committed or failed. */
  remove(evaluation: Evaluation): void {
    const index = this.#stack.lastIndexOf(evaluation);
    if (index >= 0) this.#stack.splice(index, 1);
    this.#unwatchWhenIdle();
  }

  /** Right after the job bodies without top-level await ran in: those whose epilogue did not run threw. (The module's own rejection is queued after this.) */
  #afterJob = (): void => {
    for (const evaluation of this.#enteredThisJob.splice(0)) {
      if (evaluation.record.pending === evaluation) this.#threw(evaluation);
    }
  };

  /** Puts Node's functions back once no module body runs synchronously (pending top-level awaits do not count). */
  #unwatchWhenIdle(): void {
    if (this.#idle()) this.#sideEffects.unwatchSoon(this.#idle);
  }

  readonly #idle = (): boolean => this.#stack.every(isAsync);
}

function isAsync(evaluation: Evaluation): boolean {
  return evaluation.async;
}
