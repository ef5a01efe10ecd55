import pc from 'picocolors';
import type { ReloadRecord } from './report.ts';
import { heapSparkline } from './sparkline.ts';

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
 * `reload #3 models/user.ts · purged mongoose:User (0.21 ms) · closed mongodb:MongoClient · heap 41.2 MB ▁▁▁ (+0.02 MB, +0.40 MB since #1) · rss 180 MB · alive User 1 · gc 21 ms`
 */
export function formatMemoryLine(record: ReloadRecord, colors = pc.isColorSupported, heapHistory: readonly number[] = []): string {
  const c = pc.createColors(colors);
  const parts: string[] = [];
  parts.push(`${c.bold(`reload #${record.reload}`)} ${list(record.files)}`);
  if (record.failed.length > 0) parts.push(c.red(`failed ${list(record.failed)}, kept previous`));
  const purged = record.purged.map((p) => `${p.adapter}:${p.name}`);
  parts.push(`purged ${purged.length > 0 ? list(purged) : 'nothing'} (${formatMs(record.purgeMs)})`);
  // Connections and clients the previous generation opened: `closed mongodb:MongoClient`.
  for (const action of ['closed', 'reused', 'dropped'] as const) {
    const released = (record.released ?? []).filter((r) => r.action === action).map((r) => `${r.adapter}:${r.name}`);
    if (released.length > 0) parts.push(`${action} ${list(released)}`);
  }

  const delta = record.heapDelta;
  const deltaText = delta > 2 * MB ? c.yellow(formatBytes(delta, true)) : formatBytes(delta, true);
  const since = record.reload > 1 ? `, ${formatBytes(record.heapDeltaFromFirst, true)} since #1` : '';
  const trend = heapHistory.length > 1 ? ` ${heapSparkline(heapHistory)}` : '';
  parts.push(`heap ${formatBytes(record.heapUsed)}${trend} (${deltaText}${since})`);
  parts.push(`rss ${formatBytes(record.rss)}`);
  parts.push(formatAlive(record, c));
  parts.push(record.gc ? (record.gcBy === 'v8' ? 'gc by V8' : `gc ${formatMs(record.gcMs)}`) : c.dim('no GC, counts may include garbage'));
  return parts.join(c.dim(' · '));
}

/** The models this batch reloaded, by name; then only what deserves a look (more than one generation). */
function formatAlive(record: ReloadRecord, c: ReturnType<typeof pc.createColors>): string {
  const { alive } = record;
  const count = (name: string) => (alive[name]! > 1 ? c.yellow(`${name} ${alive[name]}`) : `${name} ${alive[name]}`);
  const reloaded = [...new Set(record.purged.map((p) => p.name))].filter((name) => name in alive);
  const old = Object.keys(alive).filter((name) => alive[name]! > 1 && !reloaded.includes(name));
  const shown = [...reloaded, ...old];
  const rest = Object.keys(alive).length - shown.length;
  if (shown.length === 0) return rest > 0 ? `alive 1 generation each (${rest} models)` : 'alive: no models';
  return `alive ${list(shown.map(count))}${rest > 0 ? c.dim(` (+${rest} others at 1)`) : ''}`;
}
