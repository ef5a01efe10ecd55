import type { ReloadRecord } from '../ledger/report.ts';

/** The report's fields, and nothing else, are what the page may show. */
const FIELDS = [
  'reload', 'time', 'files', 'purged', 'purgeMs', 'failed', 'heapUsed', 'heapTotal', 'rss', 'external',
  'heapDelta', 'heapDeltaFromFirst', 'gc', 'gcMs', 'gcRounds', 'alive', 'generations', 'released',
  'sideEffects', 'verdict', 'warnings', 'stopped', 'retainerPath',
] as const satisfies readonly (keyof ReloadRecord)[];

/**
 * `mongodb://user:secret@host` → `mongodb://***@host`, in case a name or retainer step quotes a URI.
 * Run on the record's JSON text: a `"` ends the match, so it never spans two strings.
 */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"]+@/gi;

/**
 * The record as the page serves it, as JSON: only the report's own fields (a later field is shown
 * once it is listed here), with credentials inside any string masked. The dev server may listen on
 * the network (`--host`), so nothing from the environment goes out. One pass over the text, not a
 * copy of the record (its counts have an entry per model: a thousand in a big app).
 */
export function pageRecordJson(record: ReloadRecord): string {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    if (record[field] !== undefined) out[field] = record[field];
  }
  return JSON.stringify(out).replace(CREDENTIALS, '$1***@');
}

/**
 * The records of one dev server, oldest first, at most `limit` of them: a long session stays small.
 * Each is kept as its JSON text, about half the heap of the object (measured: 0.7 KB a record), and
 * read back only when a page connects or a tool asks.
 */
export class PageHistory {
  readonly #records: string[] = [];
  constructor(readonly limit = 500) {}

  /** Adds the record and returns what the page gets, as JSON. */
  add(record: ReloadRecord): string {
    const shown = pageRecordJson(record);
    this.#records.push(shown);
    if (this.#records.length > this.limit) this.#records.splice(0, this.#records.length - this.limit);
    return shown;
  }

  list(): readonly Partial<ReloadRecord>[] {
    return this.#records.map((text) => JSON.parse(text) as Partial<ReloadRecord>);
  }
}
