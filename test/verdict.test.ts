import { describe, expect, it } from 'vitest';
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

describe('leak verdict', () => {
  it('warns once about a steady heap climb no generation explains, and re-arms after it stops', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    for (let i = 1; i <= 25; i++) warnings.push(...detector.observe(sample(i, 50 * MB + i * MB)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'heap', subject: 'heap' });
    expect(warnings[0]!.perReload).toBeGreaterThan(0.99 * MB);
    expect(warnings[0]!.message).toContain('heap grows +1.00 MB per reload over the last 10 reloads');
    expect(detector.leaking).toBe(true);
    // Flat for a window: recovered; a new climb warns again.
    for (let i = 26; i <= 26 + HEAP_WINDOW; i++) expect(detector.observe(sample(i, 75 * MB))).toEqual([]);
    expect(detector.leaking).toBe(false);
    const again = [];
    for (let i = 40; i <= 55; i++) again.push(...detector.observe(sample(i, 75 * MB + (i - 39) * MB)));
    expect(again).toHaveLength(1);
  });

  it('ignores noise and slow growth under the limit', () => {
    const detector = new LeakDetector(3);
    let heap = 50 * MB;
    for (let i = 1; i <= 100; i++) {
      // Up and down by up to 1 MB, drifting up by a quarter of the limit.
      heap += HEAP_SLOPE_LIMIT / 4 + (i % 2 ? 1 : -1) * 0.9 * MB;
      expect(detector.observe(sample(i, heap))).toEqual([]);
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
      'models/a.ts leaks on reload: started 3 setInterval timers, one per reload, still live; 3 generations of model A alive after GC, one more per reload; 3 generations of its module scope alive after GC, one more per reload; heap +1.00 MB per reload. Stop them in onUnload(), or set undoSideEffects: true.',
    );
    expect(at(4)).toEqual([]);
  });

  it('stays quiet about a steady extra generation (a framework keeping its first bundle), and names the file of the newest when it grows', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    for (let i = 1; i <= 6; i++) warnings.push(...detector.observe(sample(i, 50 * MB, { alive: { A: 2 }, modelFiles: { A: 'models/b.ts' } })));
    expect(warnings).toEqual([]);
    for (let i = 7; i <= 9; i++) warnings.push(...detector.observe(sample(i, 50 * MB, { alive: { A: i - 4 }, modelFiles: { A: 'models/b.ts' } })));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe(
      'models/b.ts leaks on reload: 3 generations of model A alive after GC, 0.2 more per reload. Something outside orm-hmr holds the old ones: set trace: true (ORM_HMR_TRACE=1) for the retainer path.',
    );
  });

  it('does not blame the heap while an old generation is alive, nor for one jump', () => {
    const detector = new LeakDetector(3);
    const warnings = [];
    // Climbing with a second generation alive, before it has piled up for `after` reloads.
    for (let i = 1; i <= 12; i++) warnings.push(...detector.observe(sample(i, 50 * MB + i * MB, { alive: { A: i < 11 ? 1 : 2 } })));
    expect(warnings.filter((w) => w.kind === 'heap')).toHaveLength(1); // the climb while everything was at 1
    const quiet = new LeakDetector(3);
    // A clean app's own 0.1 MB per reload, and one 1.4 MB jump when a load starts.
    let heap = 77 * MB;
    for (let i = 1; i <= 20; i++) {
      heap += 0.1 * MB + (i === 8 ? 1.4 * MB : 0);
      expect(quiet.observe(sample(i, heap))).toEqual([]);
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
