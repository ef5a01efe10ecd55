import { formatBytes } from './format.ts';
import type { GenerationCounter } from './generations.ts';

export interface TracedSubject {
  subject: string;
  /** Steps from a GC root to the old generation, or undefined when it was not strongly held after all. */
  path: string[] | undefined;
}

export interface TraceSettings {
  /** Live generations of models, and of files' module scopes. */
  models: GenerationCounter;
  scopes: GenerationCounter;
  /** Where the snapshot file goes. */
  dir: string;
  keep: boolean;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** At most this many subjects per snapshot: each path is a line to read. */
const MAX_SUBJECTS = 3;

/**
 * Traces the oldest old generation of each subject (a model name, else a file's module scope)
 * through one heap snapshot, and prints who holds it. The snapshot reader is loaded only now: most
 * dev servers never need it.
 */
export async function traceOldGenerations(subjects: string[], settings: TraceSettings): Promise<TracedSubject[]> {
  const { log } = settings;
  const targets: { subject: string; ref: WeakRef<object>; label: string }[] = [];
  for (const subject of new Set(subjects)) {
    const model = settings.models.oldest(subject);
    const scope = settings.scopes.oldest(subject);
    if (model) targets.push({ subject, ref: model.ref, label: `model ${subject} (${model.file}, generation ${model.generation})` });
    else if (scope) targets.push({ subject, ref: scope.ref, label: `module scope of ${subject} (generation ${scope.generation})` });
    if (targets.length >= MAX_SUBJECTS) break;
  }
  if (targets.length === 0) {
    log('info', 'trace: nothing to trace, every model and file has one generation alive');
    return [];
  }
  const heap = process.memoryUsage().heapUsed;
  log('info', `trace: taking a heap snapshot to find who holds ${targets.map((t) => t.subject).join(', ')} (${formatBytes(heap)} heap: the process pauses for seconds and may use many times the heap in memory)`);
  try {
    const { traceRetainers } = await import('./retainers.ts');
    const report = await traceRetainers(targets, { dir: settings.dir, keep: settings.keep });
    for (const [i, result] of report.entries()) {
      const { subject } = targets[i]!;
      if (result.path) log('warn', `trace: ${subject} is held by ${result.path.join(' -> ')}`);
      else log('warn', `trace: ${subject}: ${result.status === 'collected' ? 'collected after all' : result.status === 'weakly-held' ? 'only weakly held, it goes at the next GC' : 'not found in the snapshot'}`);
    }
    log('info', `trace: took ${(report.ms / 1000).toFixed(1)} s${report.snapshot ? `, snapshot kept in ${report.snapshot}` : ''}`);
    return targets.map((target, i) => ({ subject: target.subject, path: report[i]?.path }));
  } catch (error) {
    log('error', `trace failed: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}
