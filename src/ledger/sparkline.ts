const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export interface SparklineOptions {
  /** At most this many values, the last ones. @default 16 */
  width?: number;
  /**
   * The smallest range the bars span. Without it two values a few bytes apart would be drawn as
   * `▁█`; with it, changes below `minSpan` stay low and flat.
   * @default 0
   */
  minSpan?: number;
}

/**
 * `▁▂▂▃▅`: one bar per value, from the lowest value shown (▁) to the highest (█). Values that
 * are not finite numbers are drawn as a space.
 */
export function sparkline(values: readonly number[], { width = 16, minSpan = 0 }: SparklineOptions = {}): string {
  const shown = width > 0 ? values.slice(-width) : [];
  const finite = shown.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return ' '.repeat(shown.length);
  const min = Math.min(...finite);
  const span = Math.max(Math.max(...finite) - min, minSpan);
  return shown
    .map((value) => {
      if (!Number.isFinite(value)) return ' ';
      if (span === 0) return BARS[0];
      // Rounded, not floored: 0.75 computed as 0.7499… must not drop a bar.
      return BARS[Math.round(((value - min) / span) * (BARS.length - 1))];
    })
    .join('');
}

/** GC noise on a healthy heap is tens of kB: below 1 MB of change the line stays flat. */
const HEAP_MIN_SPAN = 1024 * 1024;

/** Heap after GC (bytes) over the last `width` reloads, e.g. `▁▁▂▃▅▆` for a leak, `▁▁▁▁▁` when healthy. */
export function heapSparkline(heaps: readonly number[], width = 16): string {
  return sparkline(heaps, { width, minSpan: HEAP_MIN_SPAN });
}
