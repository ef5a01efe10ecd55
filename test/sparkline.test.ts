import { describe, expect, it } from 'vitest';
import { heapSparkline, sparkline } from '../src/ledger/sparkline.ts';

const MB = 1024 * 1024;

describe('sparkline', () => {
  it('draws the lowest value as ▁ and the highest as █', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([7, 0])).toBe('█▁');
  });

  it('keeps the last `width` values', () => {
    expect(sparkline([100, 0, 1], { width: 2 })).toBe('▁█');
    expect(sparkline([1, 2, 3], { width: 0 })).toBe('');
  });

  it('is flat for equal values and empty for none', () => {
    expect(sparkline([5, 5, 5])).toBe('▁▁▁');
    expect(sparkline([])).toBe('');
  });

  it('draws changes below minSpan low', () => {
    expect(sparkline([10, 10.5, 11], { minSpan: 8 })).toBe('▁▁▂');
  });

  it('leaves a gap for values that are not numbers', () => {
    expect(sparkline([0, Number.NaN, 7])).toBe('▁ █');
    expect(sparkline([Number.NaN])).toBe(' ');
  });
});

describe('heapSparkline', () => {
  it('is flat for GC noise and climbs for a leak', () => {
    const noise = [25, 25.02, 24.99, 25.01].map((mb) => mb * MB);
    expect(heapSparkline(noise)).toBe('▁▁▁▁');
    const leak = [25, 26.3, 27.6, 28.9, 30.2].map((mb) => mb * MB);
    expect(heapSparkline(leak)).toBe('▁▃▅▆█');
  });

  it('shows the last reloads only', () => {
    const records = Array.from({ length: 40 }, (_, i) => i * MB);
    expect(heapSparkline(records, 8)).toHaveLength(8);
    expect(heapSparkline(records)).toHaveLength(16);
  });
});
