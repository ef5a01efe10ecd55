import { describe, expect, it } from 'vitest';
import type { LeakWarning } from '../src/ledger/report.ts';
import { HEAP_SLOPE_LIMIT, HEAP_WINDOW, LeakDetector, type Sample } from '../src/ledger/verdict.ts';

const MB = 1024 * 1024;
const sample = (reload: number, heapUsed: number, extra: Partial<Sample> = {}): Sample => ({
  reload,
  heapUsed,
  files: ['models/a.ts'],
  alive: { A: 1 },
  modelFiles: { A: 'models/a.ts' },
  generations: {},
  sideEffects: [],
  ...extra,
});

/**
 * What the ledger does: a sample's heap after a plain GC, and the heap after a thorough GC (the
 * second argument, the same by default) only when the detector asks for it.
 */
function feed(detector: LeakDetector, s: Sample, thorough = s.heapUsed): LeakWarning[] {
  return detector.observe({ ...s, thorough: detector.wantsThorough(s.heapUsed) ? thorough : undefined });
}

describe('leak verdict', () => {
  it('warns once about a steady heap climb no generation explains, and re-arms after it stops', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    for (let i = 1; i <= 25; i++) warnings.push(...feed(detector, sample(i, 50 * MB + i * MB)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'heap', subject: 'heap' });
    expect(warnings[0]!.perReload).toBeGreaterThan(0.99 * MB);
    // Confirmed against the thorough heap of the first sample, 9 reloads before the 10th.
    expect(warnings[0]!.message).toContain('heap grows +1.00 MB per reload over the last 9 reloads');
    expect(detector.leaking).toBe(true);
    // Flat for a window: recovered; a new climb warns again.
    for (let i = 26; i <= 26 + HEAP_WINDOW; i++) expect(feed(detector, sample(i, 75 * MB))).toEqual([]);
    expect(detector.leaking).toBe(false);
    const again = [];
    for (let i = 40; i <= 55; i++) again.push(...feed(detector, sample(i, 75 * MB + (i - 39) * MB)));
    expect(again).toHaveLength(1);
  });

  it('stays quiet when the plain-GC heap climbs and the thorough one does not (Node 20 with a clean app)', () => {
    const detector = new LeakDetector(3);
    let asked = 0;
    let since = 0;
    for (let i = 1; i <= 60; i++) {
      // 300 KB per reload after a plain GC, which a thorough GC takes back: 10 KB per reload is left.
      const plain = 50 * MB + since++ * 300 * 1024 + i * 10 * 1024;
      if (detector.wantsThorough(plain)) {
        asked++;
        since = 0;
      }
      expect(feed(detector, sample(i, plain), 50 * MB + i * 10 * 1024)).toEqual([]);
    }
    expect(detector.leaking).toBe(false);
    // The first sample, then once per climb that would have warned: not every reload.
    expect(asked).toBeGreaterThan(1);
    expect(asked).toBeLessThan(60 / 4);
  });

  it('takes no heap from a sample that V8\'s own GC counted (garbage made since is in it)', () => {
    const detector = new LeakDetector(3);
    for (let i = 1; i <= 30; i++) {
      const s = sample(i, 50 * MB + i * MB);
      expect(feed(detector, i % 5 === 0 ? s : { ...s, heapUsed: undefined })).toEqual([]);
    }
    expect(detector.wantsThorough(undefined)).toBe(false);
  });

  it('ignores noise and slow growth under the limit', () => {
    const detector = new LeakDetector(3);
    let heap = 50 * MB;
    for (let i = 1; i <= 100; i++) {
      // Up and down by up to 1 MB, drifting up by a quarter of the limit.
      heap += HEAP_SLOPE_LIMIT / 4 + (i % 2 ? 1 : -1) * 0.9 * MB;
      expect(feed(detector, sample(i, heap))).toEqual([]);
    }
  });

  it('groups what piles up in one file into one warning, after `after` reloads', () => {
    const detector = new LeakDetector(2);
    const at = (n: number) =>
      detector.observe(
        sample(n, 50 * MB + n * MB, {
          alive: { A: n },
          generations: { 'models/a.ts': n },
          sideEffects: [{ effect: { kind: 'setInterval', file: 'models/a.ts', count: n }, generations: n }],
        }),
      );
    expect(at(1)).toEqual([]);
    expect(at(2)).toEqual([]);
    const [warning, ...rest] = at(3);
    expect(rest).toEqual([]);
    expect(warning).toMatchObject({ kind: 'side-effect', file: 'models/a.ts', perReload: 1 });
    expect(warning!.message).toBe(
      'models/a.ts leaks on reload: started 3 setInterval timers, one per reload, still live; 3 generations of model A alive after GC, one more per reload; 3 generations of its module scope alive after GC, one more per reload. Stop them in onUnload(), or set undoSideEffects: true.',
    );
    expect(at(4)).toEqual([]);
  });

  it('stays quiet about a steady extra generation (a framework keeping its first bundle), and names the file of the newest when it grows', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    for (let i = 1; i <= 6; i++) warnings.push(...detector.observe(sample(i, 50 * MB, { alive: { A: 2 }, modelFiles: { A: 'models/b.ts' } })));
    expect(warnings).toEqual([]);
    // One step up is not a leak yet; rising at each of 3 reloads is.
    for (let i = 7; i <= 8; i++) warnings.push(...detector.observe(sample(i, 50 * MB, { alive: { A: i - 4 }, modelFiles: { A: 'models/b.ts' } })));
    expect(warnings).toEqual([]);
    warnings.push(...detector.observe(sample(9, 50 * MB, { alive: { A: 5 }, modelFiles: { A: 'models/b.ts' } })));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe(
      'models/b.ts leaks on reload: 5 generations of model A alive after GC, one more per reload. Something outside orm-hmr holds the old ones: set trace: true (ORM_HMR_TRACE=1) for the retainer path.',
    );
  });

  it('does not blame the heap while an old generation is alive, nor for one jump', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    // Climbing with a second generation alive, before it has piled up for `after` reloads.
    for (let i = 1; i <= 12; i++) warnings.push(...feed(detector, sample(i, 50 * MB + i * MB, { alive: { A: i < 11 ? 1 : 2 } })));
    expect(warnings.filter((w) => w.kind === 'heap')).toHaveLength(1); // the climb while everything was at 1
    const quiet = new LeakDetector(3);
    // A clean app's own 0.1 MB per reload, and one 1.4 MB jump when a load starts.
    let heap = 77 * MB;
    for (let i = 1; i <= 20; i++) {
      heap += 0.1 * MB + (i === 8 ? 1.4 * MB : 0);
      expect(feed(quiet, sample(i, heap))).toEqual([]);
    }
  });
});

describe('many files at once', () => {
  it('get one warning between them when their old generations pile up together (a framework keeping every bundle)', () => {
    const detector = new LeakDetector(3);
    const files = ['a', 'b', 'c', 'd', 'e'].map((n) => `models/${n}.ts`);
    const warnings = [];
    for (let i = 1; i <= 5; i++) {
      warnings.push(
        ...detector.observe(
          sample(i, 50 * MB, {
            alive: Object.fromEntries(files.map((_, j) => [`M${j}`, i + 1])),
            modelFiles: Object.fromEntries(files.map((file, j) => [`M${j}`, file])),
          }),
        ),
      );
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe(
      '5 files keep old generations alive after GC (models/a.ts, models/b.ts, models/c.ts +2 more): something outside orm-hmr holds previous versions of them all, such as a framework keeping earlier bundles. Set trace: true (ORM_HMR_TRACE=1) for the retainer path.',
    );
  });
});

describe('leak episodes', () => {
  const alive = (detector: LeakDetector, reload: number, count: number, heap = 50 * MB) =>
    detector.judge(sample(reload, heap, { alive: { Pet: count }, modelFiles: { Pet: 'models/Pet.ts' }, files: ['models/Pet.ts'] }));

  it('stays quiet while a count steps up as route bundles load and then stays flat (Next.js, Turbopack)', () => {
    const detector = new LeakDetector(3);
    // Measured in the with-mongodb-mongoose example: 2 with one route, 3 with two, 5 once `/` is loaded.
    const counts = [2, 2, 3, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5];
    const judged = counts.map((count, i) => alive(detector, i + 1, count));
    expect(judged.flatMap((j) => j.warnings)).toEqual([]);
    expect(judged.flatMap((j) => j.stopped)).toEqual([]);
    expect(judged.every((j) => j.verdict === 'ok')).toBe(true);
  });

  it('does not count a step that comes without an edit (the same code evaluated in a route bundle that loads now)', () => {
    const detector = new LeakDetector(3);
    // Measured in Turbopack: the first edit's batches 2, 4, 5, as each route's bundle evaluates the new version.
    const steps: [number, string[]][] = [[2, ['models/Pet.ts']], [4, []], [5, []], [5, ['models/Pet.ts']], [5, ['models/Pet.ts']], [6, []], [6, ['models/Pet.ts']]];
    const judged = steps.map(([count, edited], i) =>
      detector.judge(sample(i + 1, 50 * MB, { alive: { Pet: count }, modelFiles: { Pet: 'models/Pet.ts' }, files: ['models/Pet.ts'], edited })),
    );
    expect(judged.flatMap((j) => j.warnings)).toEqual([]);
    // A leak grows with edits, whatever the steps between them.
    const leaky = new LeakDetector(3);
    const leak: [number, string[]][] = [[2, ['models/Pet.ts']], [3, []], [4, ['models/Pet.ts']], [5, []], [6, ['models/Pet.ts']]];
    const warnings = leak.flatMap(([count, edited], i) =>
      leaky.judge(sample(i + 1, 50 * MB, { alive: { Pet: count }, modelFiles: { Pet: 'models/Pet.ts' }, files: ['models/Pet.ts'], edited })).warnings,
    );
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^models\/Pet\.ts leaks on reload: 6 generations of model Pet alive after GC/)]);
  });

  it('never warns about a count that goes up and down (a generation counted before it was collected)', () => {
    const detector = new LeakDetector(3);
    const counts = [2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3];
    const judged = counts.map((count, i) => alive(detector, i + 1, count));
    expect(judged.flatMap((j) => j.warnings)).toEqual([]);
    expect(judged.every((j) => j.verdict === 'ok')).toBe(true);
  });

  it('warns once per episode whatever the count does meanwhile, says when it stopped, and warns again when a new one begins', () => {
    const detector = new LeakDetector(3);
    // Warned at 4; it goes on climbing, unevenly (peaks 5, 6, 7); flat at or below 7 for 3 reloads; then a new climb.
    const counts = [2, 3, 4, 5, 4, 6, 5, 7, 6, 6, 5, 6, 7, 8];
    const judged = counts.map((count, i) => alive(detector, i + 1, count));
    const warnedAt = judged.flatMap((j, i) => (j.warnings.length ? [i + 1] : []));
    expect(warnedAt).toEqual([3, 14]);
    expect(judged[2]!.warnings[0]!.message).toMatch(/^models\/Pet\.ts leaks on reload: 4 generations of model Pet alive after GC, one more per reload\./);
    const stoppedAt = judged.flatMap((j, i) => (j.stopped.length ? [i + 1] : []));
    expect(stoppedAt).toEqual([11]);
    expect(judged[10]!.stopped[0]).toMatchObject({ kind: 'generations', subject: 'Pet', file: 'models/Pet.ts' });
    expect(judged[10]!.stopped[0]!.message).toBe('models/Pet.ts stopped leaking: model Pet at 5 generations, not growing for 3 reloads.');
    expect(judged.map((j) => j.verdict).join(' ')).toBe([...Array(2).fill('ok'), ...Array(8).fill('leak'), ...Array(3).fill('ok'), 'leak'].join(' '));
  });

  it('says the leak stopped when its old generations are collected', () => {
    const detector = new LeakDetector(3);
    for (const [i, count] of [2, 3, 4, 1, 1].entries()) alive(detector, i + 1, count);
    expect(detector.leaking).toBe(true);
    const third = alive(detector, 6, 1);
    expect(third.stopped.map((s) => s.message)).toEqual(['models/Pet.ts stopped leaking: model Pet at 1 generation, not growing for 3 reloads.']);
    expect(third.verdict).toBe('ok');
  });

  it('gives a heap clause only from the median step over 10 reloads, never from a first compile', () => {
    // A first page compile (+9.7 MB) at reload 2, then a leak from reload 3: no heap clause, 3 samples.
    const early = new LeakDetector(3);
    const heaps = [60, 69.7, 70, 70.1].map((mb) => mb * MB);
    const warnings = [2, 3, 4, 5].flatMap((count, i) => alive(early, i + 1, count, heaps[i]).warnings);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).not.toContain('heap');
    // Ten reloads of +1 MB with a steady extra generation, then the count climbs: the clause is the median step.
    const late = new LeakDetector(3);
    const later = [];
    for (let i = 1; i <= 10; i++) later.push(...alive(late, i, 2, 50 * MB + i * MB + (i === 4 ? 9 * MB : 0)).warnings);
    for (let i = 11; i <= 13; i++) later.push(...alive(late, i, i - 8, 50 * MB + i * MB + 9 * MB).warnings);
    expect(later).toHaveLength(1);
    expect(later[0]!.message).toContain('; heap +1.00 MB per reload over the last 10 reloads.');
  });
});
