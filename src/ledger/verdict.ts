import { formatBytes } from './format.ts';
import type { LeakWarning, SideEffectCount, SideEffectKind } from './report.ts';

/** What the ledger measured after one reload batch, with a full GC behind it. */
export interface Sample {
  reload: number;
  heapUsed: number;
  /** Files re-evaluated in this batch. */
  files: string[];
  /** Live generations per model, of this dev server's code only. */
  alive: Record<string, number>;
  /** The file that registered each model's newest generation. */
  modelFiles: Record<string, string>;
  /** Live generations per tracked file's module scope. */
  generations: Record<string, number>;
  /** Live side effects, each with how many of its file's generations started them. */
  sideEffects: { effect: SideEffectCount; generations: number }[];
}

/**
 * Heap growth per reload (bytes, the median step over {@link HEAP_WINDOW} reloads) above which
 * a steady climb is a leak. Clean apps measured here: Vite 6–8 with Mongoose below 0.02 MB per
 * reload, SvelteKit about 0.09 MB; a module holding 1 MB that leaks grows 1 MB per reload.
 */
export const HEAP_SLOPE_LIMIT = 256 * 1024;
export const HEAP_WINDOW = 10;
/** More files than this with old generations in one batch get one warning between them. */
const GROUP_AFTER = 3;

/**
 * Decides when old generations, side effects or the heap pile up across reloads, and words one
 * warning per leaking file (not one per reload): it re-arms only once the leak went away.
 */
export class LeakDetector {
  /** Reloads after which an old generation still alive is a leak. */
  readonly after: number;
  /** Whether the runtime traces retainers after a warning (changes the advice). */
  tracing = false;
  #samples: Sample[] = [];
  /** Consecutive samples with more than one generation alive, per `model:` / `file:` subject, with the counts. */
  #streaks = new Map<string, number[]>();
  /** Subjects warned about and still leaking: no second warning until they recover. */
  #warned = new Set<string>();

  constructor(after = 3) {
    this.after = Math.max(1, after);
  }

  /** Whether something is leaking now (warned about, not recovered). */
  get leaking(): boolean {
    return this.#warned.size > 0;
  }

  observe(sample: Sample): LeakWarning[] {
    this.#samples.push(sample);
    if (this.#samples.length > HEAP_WINDOW) this.#samples.shift();
    const heapPerReload = this.#medianStep(this.after + 1);

    // Everything that piles up, grouped by the file to look at.
    const findings = new Map<string, Finding[]>();
    const add = (file: string, finding: Finding) => {
      const list = findings.get(file);
      if (list) list.push(finding);
      else findings.set(file, [finding]);
    };
    const current = new Set<string>();

    for (const [name, count] of Object.entries(sample.alive)) {
      const streak = this.#streak(`model:${name}`, count);
      if (piles(streak, this.after)) {
        current.add(`model:${name}`);
        add(sample.modelFiles[name] ?? name, { key: `model:${name}`, kind: 'generations', subject: name, text: `${count} generations of model ${name} alive after GC${growth(streak)}`, perReload: perReload(streak) });
      }
    }
    for (const [file, count] of Object.entries(sample.generations)) {
      const streak = this.#streak(`file:${file}`, count);
      if (piles(streak, this.after)) {
        current.add(`file:${file}`);
        add(file, { key: `file:${file}`, kind: 'generations', subject: file, text: `${count} generations of its module scope alive after GC${growth(streak)}`, perReload: perReload(streak) });
      }
    }
    for (const { effect, generations } of sample.sideEffects) {
      if (generations <= this.after) continue;
      const key = `effect:${effect.kind}|${effect.file}|${effect.target ?? ''}`;
      current.add(key);
      add(effect.file, { key, kind: 'side-effect', subject: effect.file, text: describeEffects(effect, generations), perReload: effect.count / generations });
    }
    for (const key of this.#streaks.keys()) if (!seen(sample, key)) this.#streaks.delete(key);

    const warnings: LeakWarning[] = [];
    for (const [file, list] of findings) {
      const fresh = list.some((f) => !this.#warned.has(f.key));
      for (const f of list) this.#warned.add(f.key);
      if (!fresh) continue;
      // Side effects are the most actionable, then models, then the file's own scope.
      const main = list.find((f) => f.kind === 'side-effect') ?? list.find((f) => f.subject !== file) ?? list[0]!;
      const heap = heapPerReload > HEAP_SLOPE_LIMIT / 4 ? `; heap ${formatBytes(heapPerReload, true)} per reload` : '';
      const advice = main.kind === 'side-effect'
        ? 'Stop them in onUnload(), or set undoSideEffects: true.'
        : `Something outside orm-hmr holds the old ones: ${this.tracing ? 'tracing who.' : 'set trace: true (ORM_HMR_TRACE=1) for the retainer path.'}`;
      warnings.push({
        kind: main.kind,
        subject: main.subject,
        file,
        perReload: main.perReload,
        message: `${file} leaks on reload: ${[main, ...list.filter((f) => f !== main)].map((f) => f.text).join('; ')}${heap}. ${advice}`,
      });
    }
    // The heap's climb is explained by any old generation or piling side effect, warned about yet or not.
    const explained =
      Object.values(sample.alive).some((n) => n > 1) || Object.values(sample.generations).some((n) => n > 1) || sample.sideEffects.some((e) => e.generations > 1);
    warnings.push(...this.#heapClimb(explained, current));

    // Re-arm what recovered.
    for (const key of this.#warned) {
      if (key === 'heap' ? current.has('heap-recovered') : !current.has(key)) this.#warned.delete(key);
    }
    return this.#grouped(warnings);
  }

  /**
   * Many files whose old generations all stay alive at once have one cause (a framework that keeps
   * a previous bundle, as Next.js does its first): one warning naming them, not one per file.
   */
  #grouped(warnings: LeakWarning[]): LeakWarning[] {
    const generations = warnings.filter((w) => w.kind === 'generations');
    if (generations.length <= GROUP_AFTER) return warnings;
    const files = generations.map((w) => w.file!);
    const message = `${files.length} files keep old generations alive after GC (${files.slice(0, GROUP_AFTER).join(', ')} +${files.length - GROUP_AFTER} more): something outside orm-hmr holds previous versions of them all, such as a framework keeping earlier bundles. ${this.tracing ? 'Tracing who.' : 'Set trace: true (ORM_HMR_TRACE=1) for the retainer path.'}`;
    const first = generations[0]!;
    return [...warnings.filter((w) => w.kind !== 'generations'), { ...first, message }];
  }

  /** A steady climb of the heap that no old generation or side effect explains (`explained`). */
  #heapClimb(explained: boolean, current: Set<string>): LeakWarning[] {
    const warnings: LeakWarning[] = [];
    const heapSlope = this.#medianStep(HEAP_WINDOW);
    if (this.#samples.length >= HEAP_WINDOW && heapSlope > HEAP_SLOPE_LIMIT && this.#mostlyRising() && !explained) {
      current.add('heap');
      if (!this.#warned.has('heap')) {
        this.#warned.add('heap');
        const files = [...new Set(this.#samples.flatMap((s) => s.files))];
        warnings.push({
          kind: 'heap',
          subject: 'heap',
          perReload: Math.round(heapSlope),
          message: `heap grows ${formatBytes(heapSlope, true)} per reload over the last ${HEAP_WINDOW} reloads, with no old generation alive (files reloaded: ${files.slice(0, 4).join(', ')}${files.length > 4 ? ` +${files.length - 4} more` : ''}). Set trace: true, or compare two heap snapshots.`,
        });
      }
    } else if (heapSlope < HEAP_SLOPE_LIMIT / 2) current.add('heap-recovered');
    return warnings;
  }

  /** Appends `count` to the subject's streak of samples above one generation; resets at one. */
  #streak(key: string, count: number): number[] {
    if (count <= 1) {
      this.#streaks.delete(key);
      return [];
    }
    const streak = this.#streaks.get(key) ?? [];
    streak.push(count);
    this.#streaks.set(key, streak);
    return streak;
  }

  /**
   * The median heap step over the last `n` samples, bytes per reload: a leak adds about the same
   * each reload, while one jump (a route compiled for the first time, a load starting) moves one
   * step only.
   */
  #medianStep(n: number): number {
    const samples = this.#samples.slice(-n);
    const steps = samples.slice(1).map((s, i) => s.heapUsed - samples[i]!.heapUsed).sort((a, b) => a - b);
    return steps.length > 0 ? steps[Math.floor(steps.length / 2)]! : 0;
  }

  /** At least 80% of the steps in the window went up: a climb, not noise around a level. */
  #mostlyRising(): boolean {
    let rising = 0;
    for (let i = 1; i < this.#samples.length; i++) if (this.#samples[i]!.heapUsed > this.#samples[i - 1]!.heapUsed) rising++;
    return rising >= 0.8 * (this.#samples.length - 1);
  }
}

interface Finding {
  /** `model:User`, `file:models/user.ts` or `effect:setInterval|models/cache.ts|`. */
  key: string;
  kind: LeakWarning['kind'];
  subject: string;
  text: string;
  perReload: number;
}

/**
 * Old generations pile up: more than one alive for `after` reloads, and more now than when that
 * began. A steady extra generation is a framework keeping an earlier bundle (Next.js keeps its
 * first), not something that grows with each save.
 */
function piles(streak: number[], after: number): boolean {
  return streak.length >= after && streak.at(-1)! > streak[0]!;
}

function seen(sample: Sample, key: string): boolean {
  if (key.startsWith('model:')) return key.slice(6) in sample.alive;
  if (key.startsWith('file:')) return key.slice(5) in sample.generations;
  return true;
}

/** `, one more per reload`. */
function growth(streak: number[]): string {
  const per = perReload(streak);
  return per === 1 ? ', one more per reload' : `, ${per.toFixed(1)} more per reload`;
}

function perReload(streak: number[]): number {
  return streak.length > 1 ? (streak.at(-1)! - streak[0]!) / (streak.length - 1) : 0;
}

const VERBS: Record<SideEffectKind, [verb: string, noun: string]> = {
  setInterval: ['started', 'setInterval timers'],
  setTimeout: ['started', 'setTimeout timers'],
  listener: ['added', 'listeners'],
  server: ['started', 'servers'],
  socket: ['opened', 'sockets'],
};

/** `started 5 setInterval timers, one per reload, still running`. */
function describeEffects(effect: SideEffectCount, generations: number): string {
  const [verb, noun] = VERBS[effect.kind];
  const on = effect.target ? ` on ${effect.target}` : '';
  const per = effect.count === generations ? 'one per reload' : `${(effect.count / generations).toFixed(1)} per reload`;
  return `${verb} ${effect.count} ${noun}${on}, ${per}, still live`;
}
