import pc from 'picocolors';
import type { ReloadRecord } from './report.ts';

const MB = 1024 * 1024;

/** `41.2 MB`; deltas get a sign. */
export function formatBytes(bytes: number, signed = false): string {
  const mb = bytes / MB;
  const text = `${Math.abs(mb) < 10 ? mb.toFixed(2) : mb.toFixed(1)} MB`;
  return signed && bytes >= 0 ? `+${text}` : text;
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

/** At most this many files or purged names are spelled out; the rest are counted. */
const LIST_MAX = 4;

function list(items: string[]): string {
  if (items.length <= LIST_MAX) return items.join(', ');
  return `${items.slice(0, LIST_MAX).join(', ')} +${items.length - LIST_MAX} more`;
}

/**
 * The memory line, one per reload batch, e.g.
 * `reload #3 models/user.ts · purged mongoose:User (0.21 ms) · heap 41.2 MB (+0.02 MB, +0.40 MB since #1) · rss 180 MB · alive User 1 · gc 21 ms`
 */
export function formatMemoryLine(record: ReloadRecord, colors = pc.isColorSupported): string {
  const c = pc.createColors(colors);
  const parts: string[] = [];
  parts.push(`${c.bold(`reload #${record.reload}`)} ${list(record.files)}`);
  if (record.failed.length > 0) parts.push(c.red(`failed ${list(record.failed)}, kept previous`));
  const purged = record.purged.map((p) => `${p.adapter}:${p.name}`);
  parts.push(`purged ${purged.length > 0 ? list(purged) : 'nothing'} (${formatMs(record.purgeMs)})`);

  const delta = record.heapDelta;
  const deltaText = delta > 2 * MB ? c.yellow(formatBytes(delta, true)) : formatBytes(delta, true);
  const since = record.reload > 1 ? `, ${formatBytes(record.heapDeltaFromFirst, true)} since #1` : '';
  parts.push(`heap ${formatBytes(record.heapUsed)} (${deltaText}${since})`);
  parts.push(`rss ${formatBytes(record.rss)}`);
  parts.push(formatAlive(record.alive, c));
  parts.push(record.gc ? `gc ${formatMs(record.gcMs)}` : c.dim('no GC, counts may include garbage'));
  return parts.join(c.dim(' · '));
}

function formatAlive(alive: Record<string, number>, c: ReturnType<typeof pc.createColors>): string {
  const names = Object.keys(alive);
  if (names.length === 0) return 'alive: no models';
  const old = names.filter((name) => alive[name]! > 1);
  if (old.length === 0) {
    return names.length <= LIST_MAX
      ? `alive ${names.map((name) => `${name} 1`).join(', ')}`
      : `alive 1 generation each (${names.length} models)`;
  }
  const shown = old.map((name) => c.yellow(`${name} ${alive[name]}`));
  const rest = names.length - old.length;
  return `alive ${list(shown)}${rest > 0 ? ` (others 1)` : ''}`;
}
