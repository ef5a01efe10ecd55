import type { ReloadRecord } from '../ledger/report.ts';

/** The report's fields, and nothing else, are what the page may show. */
const FIELDS = [
  'reload', 'time', 'files', 'purged', 'purgeMs', 'failed', 'heapUsed', 'heapTotal', 'rss', 'external',
  'heapDelta', 'heapDeltaFromFirst', 'gc', 'gcMs', 'gcRounds', 'alive', 'generations', 'released',
  'sideEffects', 'verdict', 'warnings', 'stopped', 'retainerPath',
] as const satisfies readonly (keyof ReloadRecord)[];

/** `mongodb://user:secret@host` → `mongodb://***@host`, in case a name or retainer step quotes a URI. */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/**
 * The record as the page serves it: only the report's own fields (a later field is shown once
 * it is listed here), with credentials inside any string masked. The dev server may listen on
 * the network (`--host`), so nothing from the environment goes out.
 */
export function pageRecord(record: ReloadRecord): Partial<ReloadRecord> {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    if (record[field] !== undefined) out[field] = mask(record[field]);
  }
  return out as Partial<ReloadRecord>;
}

function mask(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(CREDENTIALS, '$1***@');
  if (Array.isArray(value)) return value.map(mask);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [mask(key) as string, mask(inner)]));
  }
  return value;
}

/**
 * The records of one dev server, oldest first, at most `limit` of them: a long session stays small.
 * Each is kept as its JSON text, about half the heap of the object (measured: 0.7 KB a record), and
 * read back only when a page connects or a tool asks.
 */
export class PageHistory {
  readonly #records: string[] = [];
  constructor(readonly limit = 500) {}

  /** Adds the record and returns what the page gets. */
  add(record: ReloadRecord): Partial<ReloadRecord> {
    const shown = pageRecord(record);
    this.#records.push(JSON.stringify(shown));
    if (this.#records.length > this.limit) this.#records.splice(0, this.#records.length - this.limit);
    return shown;
  }

  list(): readonly Partial<ReloadRecord>[] {
    return this.#records.map((text) => JSON.parse(text) as Partial<ReloadRecord>);
  }
}
