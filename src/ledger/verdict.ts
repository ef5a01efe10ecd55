import { formatBytes } from './format.ts';
import type { LeakStop, LeakWarning, SideEffectCount, SideEffectKind } from './report.ts';

export type { LeakStop } from './report.ts';

/** What the ledger measured after one reload batch, with a full GC behind it. */
export interface Sample {
  reload: number;
  /** The heap right after our forced GC; undefined when V8's own GC counted (garbage since is in it). */
  heapUsed?: number;
  /** The heap after the thorough GC that {@link LeakDetector.wantsThorough} asked for. */
  thorough?: number;
  /** Files re-evaluated in this batch. */
  files: string[];
  /**
   * Those whose source changed (or were deleted); all of them when unknown. A batch with no edit
   * (Next.js evaluating the same code in a route bundle that loads now) is no reload a leak grows with.
   */
  edited?: string[];
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

/** What one sample brought: warnings for leaks that began, lines for leaks that stopped. */
export interface Judgement {
  warnings: LeakWarning[];
  stopped: LeakStop[];
  /** `leak` while a leak that was warned about has not stopped. */
  verdict: 'ok' | 'leak';
}

/**
 * One count (generations of a model or a file, side effects of a file) across reloads. A leak is
 * a count that keeps growing: it rose at each of the last `after` reloads of its file. A count that
 * steps up (Next.js keeps each route bundle's first generation, so `alive` climbs as routes load)
 * and then stays put is not one, and a count that goes up and down (a generation counted before
 * it was collected, a request still holding the previous one) never rises `after` times in a row.
 */
interface Track {
  /** The count at the previous sample it was seen in (1 before it was ever above one). */
  last: number;
  /** Consecutive rises, and the count before the first of them. */
  rises: number;
  from: number;
  /** Set while a leak episode lasts: the highest count since it began, and samples since it rose above that. */
  episode?: { peak: number; flat: number };
}

/**
 * Decides when old generations, side effects or the heap pile up across reloads. One warning per
 * leak episode, whatever the count does meanwhile (hysteresis): the episode begins after `after`
 * consecutive rises and ends once the count has stayed at or below its peak for `after` reloads,
 * which gets one line saying so.
 */
export class LeakDetector {
  /** Reloads after which a count that rose at each of them is a leak (and after which a flat one has stopped). */
  readonly after: number;
  /** Whether the runtime traces retainers after a warning (changes the advice). */
  tracing = false;
  /** The last {@link HEAP_WINDOW} samples' heap and files: all the history the heap verdict needs. */
  #samples: { reload: number; heapUsed: number; files: string[] }[] = [];
  /** The last few heaps after a thorough GC, by reload: what confirms a climb. */
  #thorough: { reload: number; heapUsed: number }[] = [];
  /** Counts by `model:` / `file:` / `effect:` subject; a subject no longer reported is dropped. */
  #tracks = new Map<string, Track>();
  #heapLeaking = false;

  constructor(after = 3) {
    this.after = Math.max(1, after);
  }

  /** Whether something is leaking now (warned about, not stopped). */
  get leaking(): boolean {
    if (this.#heapLeaking) return true;
    for (const track of this.#tracks.values()) if (track.episode) return true;
    return false;
  }

  /** The warnings `sample` brings (see {@link judge}). */
  observe(sample: Sample): LeakWarning[] {
    return this.judge(sample).warnings;
  }

  /**
   * Whether the sample with this heap needs a thorough GC's heap too: the first one (the base to
   * compare with), and one that would start a climb, to confirm it (a plain GC's heap climbs on
   * Node 20 with nothing leaking, see `thoroughHeapUsed`).
   */
  wantsThorough(heapUsed: number | undefined): boolean {
    if (heapUsed === undefined) return false;
    if (this.#thorough.length === 0) return true;
    const window = this.#samples.slice(1 - HEAP_WINDOW);
    // At most one per window: a thorough GC drops the plain heaps after it, and a window that
    // still holds the one before it would ask again at each reload of a climb that is not there.
    if (window.length < HEAP_WINDOW - 1 || window[0]!.reload < this.#thorough.at(-1)!.reload) return false;
    return !this.#heapLeaking && climbs([...window.map((s) => s.heapUsed), heapUsed]);
  }

  judge(sample: Sample): Judgement {
    if (sample.heapUsed !== undefined) {
      this.#samples.push({ reload: sample.reload, heapUsed: sample.heapUsed, files: sample.files });
      if (this.#samples.length > HEAP_WINDOW) this.#samples.shift();
    }
    if (sample.thorough !== undefined) {
      this.#thorough.push({ reload: sample.reload, heapUsed: sample.thorough });
      if (this.#thorough.length > 4) this.#thorough.shift();
    }

    // Every count of this sample, with the file to look at.
    const counts: { key: string; count: number; file: string; finding: (track: Track) => Finding; stop: string }[] = [];
    for (const [name, count] of Object.entries(sample.alive)) {
      const file = sample.modelFiles[name] ?? name;
      counts.push({
        key: `model:${name}`, count, file, stop: `model ${name} at ${count} generation${count === 1 ? '' : 's'}`,
        finding: (t) => ({ key: `model:${name}`, kind: 'generations', subject: name, text: `${count} generations of model ${name} alive after GC${growth(t)}`, perReload: perReload(t, count) }),
      });
    }
    for (const [file, count] of Object.entries(sample.generations)) {
      counts.push({
        key: `file:${file}`, count, file, stop: `its module scope at ${count} generation${count === 1 ? '' : 's'}`,
        finding: (t) => ({ key: `file:${file}`, kind: 'generations', subject: file, text: `${count} generations of its module scope alive after GC${growth(t)}`, perReload: perReload(t, count) }),
      });
    }
    for (const { effect, generations } of sample.sideEffects) {
      const key = `effect:${effect.kind}|${effect.file}|${effect.target ?? ''}`;
      counts.push({
        key, count: generations, file: effect.file, stop: `${VERBS[effect.kind][1]}${effect.target ? ` on ${effect.target}` : ''} of ${generations} generation${generations === 1 ? '' : 's'} live`,
        finding: () => ({ key, kind: 'side-effect', subject: effect.file, text: describeEffects(effect, generations), perReload: effect.count / generations }),
      });
    }

    const edit = sample.edited === undefined || sample.edited.length > 0;
    const began = new Map<string, Finding[]>();
    const ongoing = new Map<string, Finding[]>();
    const stopped = new Map<string, { kind: LeakWarning['kind']; subject: string; text: string }[]>();
    const seen = new Set<string>();
    for (const { key, count, file, finding, stop } of counts) {
      seen.add(key);
      const track = this.#tracks.get(key) ?? { last: 1, rises: 0, from: 1 };
      this.#tracks.set(key, track);
      if (!edit) {
        // The same code evaluated again in another bundle: a step, neither growth with edits nor its end.
      } else if (count > track.last) {
        if (track.rises === 0) track.from = track.last;
        track.rises++;
      } else {
        track.rises = 0;
      }
      track.last = count;
      if (track.episode) {
        if (count > track.episode.peak) {
          track.episode.peak = count;
          track.episode.flat = 0;
        } else if (++track.episode.flat >= this.after) {
          track.episode = undefined;
          track.rises = 0;
          push(stopped, file, { kind: key.startsWith('effect:') ? 'side-effect' : 'generations', subject: key.slice(key.indexOf(':') + 1), text: stop });
          continue;
        }
        push(ongoing, file, finding(track));
      } else if (track.rises >= this.after) {
        track.episode = { peak: count, flat: 0 };
        push(began, file, finding(track));
      }
    }
    // A subject no longer reported (its last old generation collected, its file deleted) has stopped.
    for (const [key, track] of this.#tracks) {
      if (seen.has(key)) continue;
      this.#tracks.delete(key);
      if (track.episode) {
        const subject = key.slice(key.indexOf(':') + 1);
        push(stopped, key.startsWith('effect:') ? subject.split('|')[1]! : subject, { kind: key.startsWith('effect:') ? 'side-effect' : 'generations', subject, text: 'nothing of it left' });
      }
    }

    // The heap clause: the same robust slope as the heap verdict, and only once there is a window of it.
    const heapSlope = this.#samples.length >= HEAP_WINDOW ? medianStep(this.#samples.map((s) => s.heapUsed)) : 0;
    const heapClause = heapSlope > HEAP_SLOPE_LIMIT / 4 ? `; heap ${formatBytes(heapSlope, true)} per reload over the last ${HEAP_WINDOW} reloads` : '';
    const warnings: LeakWarning[] = [];
    for (const [file, all] of began) {
      // A file already warned about (another of its counts leaks on) gets no second warning.
      if (ongoing.has(file)) continue;
      // Side effects are the most actionable, then models, then the file's own scope.
      const main = all.find((f) => f.kind === 'side-effect') ?? all.find((f) => f.subject !== file) ?? all[0]!;
      const advice = main.kind === 'side-effect'
        ? 'Stop them in onUnload(), or set undoSideEffects: true.'
        : `Something outside orm-hmr holds the old ones: ${this.tracing ? 'tracing who.' : 'set trace: true (ORM_HMR_TRACE=1) for the retainer path.'}`;
      warnings.push({
        kind: main.kind,
        subject: main.subject,
        file,
        perReload: main.perReload,
        message: `${file} leaks on reload: ${[main, ...all.filter((f) => f !== main)].map((f) => f.text).join('; ')}${heapClause}. ${advice}`,
      });
    }
    const stops: LeakStop[] = [];
    for (const [file, list] of stopped) {
      if (ongoing.has(file) || began.has(file)) continue; // something else of that file still leaks
      stops.push({
        kind: list[0]!.kind,
        subject: list[0]!.subject,
        file,
        message: `${file} stopped leaking: ${list.map((s) => s.text).join('; ')}, not growing for ${this.after} reload${this.after === 1 ? '' : 's'}.`,
      });
    }

    // The heap's climb is explained by any old generation or piling side effect, warned about yet or not.
    const explained =
      Object.values(sample.alive).some((n) => n > 1) || Object.values(sample.generations).some((n) => n > 1) || sample.sideEffects.some((e) => e.generations > 1);
    const heap = this.#heapClimb(explained, sample);
    if (heap?.warning) warnings.push(heap.warning);
    if (heap?.stop) stops.push(heap.stop);
    return { warnings: this.#grouped(warnings), stopped: stops, verdict: this.leaking ? 'leak' : 'ok' };
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

  /**
   * A steady climb of the heap that no old generation or side effect explains (`explained`), seen
   * after plain GCs and confirmed by thorough ones: its warning, or the line that it stopped.
   */
  #heapClimb(explained: boolean, sample: Sample): { warning?: LeakWarning; stop?: LeakStop } | undefined {
    const heaps = this.#samples.map((s) => s.heapUsed);
    const heapSlope = medianStep(heaps);
    if (this.#heapLeaking) {
      if (heapSlope >= HEAP_SLOPE_LIMIT / 2) return undefined;
      this.#heapLeaking = false;
      return { stop: { kind: 'heap', subject: 'heap', message: `heap stopped growing: ${formatBytes(heapSlope, true)} per reload over the last ${HEAP_WINDOW} reloads.` } };
    }
    if (explained || sample.thorough === undefined || heaps.length < HEAP_WINDOW || !climbs(heaps)) return undefined;
    // The thorough heaps, from the newest at least a window before this one (the oldest if none is).
    const now = this.#thorough.at(-1)!;
    const before = this.#thorough.slice(0, -1);
    const base = [...before].reverse().find((t) => t.reload <= now.reload - HEAP_WINDOW) ?? before[0];
    if (!base) return undefined;
    const reloads = now.reload - base.reload;
    const confirmed = (now.heapUsed - base.heapUsed) / reloads;
    if (confirmed <= HEAP_SLOPE_LIMIT) return undefined;
    this.#heapLeaking = true;
    const files = [...new Set(this.#samples.flatMap((s) => s.files))];
    return { warning: {
      kind: 'heap',
      subject: 'heap',
      perReload: Math.round(confirmed),
      message: `heap grows ${formatBytes(confirmed, true)} per reload over the last ${reloads} reloads, with no old generation alive (files reloaded: ${files.slice(0, 4).join(', ')}${files.length > 4 ? ` +${files.length - 4} more` : ''}). Set trace: true, or compare two heap snapshots.`,
    } };
  }
}

/**
 * A climb in plain-GC heaps: the median step above the limit (a leak adds about the same each
 * reload, while one jump, a route compiled for the first time, moves one step only) and at least
 * 80% of the steps up (not noise around a level).
 */
function climbs(heaps: number[]): boolean {
  let rising = 0;
  for (let i = 1; i < heaps.length; i++) if (heaps[i]! > heaps[i - 1]!) rising++;
  return medianStep(heaps) > HEAP_SLOPE_LIMIT && rising >= 0.8 * (heaps.length - 1);
}

/** The median step between consecutive heaps, bytes per reload. */
function medianStep(heaps: number[]): number {
  const steps = heaps.slice(1).map((h, i) => h - heaps[i]!).sort((a, b) => a - b);
  return steps.length > 0 ? steps[Math.floor(steps.length / 2)]! : 0;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

interface Finding {
  /** `model:User`, `file:models/user.ts` or `effect:setInterval|models/cache.ts|`. */
  key: string;
  kind: LeakWarning['kind'];
  subject: string;
  text: string;
  perReload: number;
}

/** `, one more per reload` over the current run of rises. */
function growth(track: Track): string {
  const per = perReload(track, track.last);
  return per === 1 ? ', one more per reload' : `, ${per.toFixed(1)} more per reload`;
}

function perReload(track: Track, count: number): number {
  return track.rises > 0 ? (count - track.from) / track.rises : 0;
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
