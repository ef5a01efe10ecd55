import type { AdapterHost } from './adapter-host.ts';
import { SlotMap, sameSlot, snapshot, stillRegistered, type OwnedEntry } from './entries.ts';
import type { Evaluation } from './module-record.ts';
import type { Owners } from './owners.ts';
import { OUTSIDE, type Ledger } from '../ledger/ledger.ts';
import { debug } from '../util/log.ts';

/** `Evaluation.before` when every adapter reports (the built-ins do): nothing to diff. */
export const NOTHING_LISTED: Evaluation['before'] = new Map();

/** Before a body runs: the entries of the adapters that do not report (a user's `defineAdapter` with only `entries()`). */
export function listBefore(host: AdapterHost): Evaluation['before'] {
  const listed = host.listed();
  return listed.length === 0 ? NOTHING_LISTED : new Map(listed.map((adapter) => [adapter, snapshot(host.list(adapter))]));
}

/**
 * What the evaluation registered: its journal (entries whose slot still holds them), then what
 * appeared in the entries of adapters that do not report, minus other files' nested evaluations.
 */
export function registeredBy(evaluation: Evaluation, host: AdapterHost, owners: Owners): OwnedEntry[] {
  const fresh: OwnedEntry[] = [];
  for (const entry of journaled(evaluation.journal)) if (stillRegistered(entry)) fresh.push(entry);
  for (const [adapter, before] of evaluation.before) {
    for (const entry of host.list(adapter)) {
      const was = before.get(entry);
      if (was === entry.value && (was !== undefined || before.has(entry))) continue;
      if (owners.heldByOther(entry, evaluation.record)) continue;
      fresh.push(entry);
    }
  }
  return fresh;
}

/**
 * The journal with one entry per slot: where a slot was reported twice (a model compiled again
 * under its name), the last report at the first one's place. An array, not a map per evaluation:
 * most files register a handful of entries.
 */
function journaled(journal: readonly OwnedEntry[]): readonly OwnedEntry[] {
  if (journal.length < 2) return journal;
  // A few entries (a model: its two registries, its collection, its queued init): compared in place.
  const bySlot = journal.length > 16 ? new SlotMap<number>() : undefined;
  const out: OwnedEntry[] = [];
  for (const entry of journal) {
    const at = bySlot ? bySlot.get(entry) : indexOfSlot(out, entry);
    if (at === undefined) {
      bySlot?.set(entry, out.length);
      out.push(entry);
    } else {
      out[at] = entry;
    }
  }
  return out;
}

function indexOfSlot(entries: readonly OwnedEntry[], entry: OwnedEntry): number | undefined {
  for (let i = 0; i < entries.length; i++) if (sameSlot(entries[i]!, entry)) return i;
  return undefined;
}

/**
 * Once per batch, after it, off any request's path: registrations no hook reported (made before
 * an adapter attached, or by writing to a registry directly) are noticed here. They belong to no
 * file; models among them are counted, and DEBUG=orm-hmr names them.
 */
export function sweep(host: AdapterHost, owners: Owners, ledger: Ledger): void {
  const unseen = host.unowned((entry) => owners.holds(entry));
  const fresh = unseen.filter((entry) => entry.track && entry.label !== undefined && ledger.generations.isNew(entry.trackedValue ?? entry.value));
  for (const entry of fresh) ledger.track(entry.label!, entry.trackedValue ?? entry.value, OUTSIDE, 0);
  if (fresh.length > 0) debug(() => `sweep: registered outside tracked modules, or not through a hook: ${fresh.map((e) => `${e.adapter}:${e.label}`).join(', ')}`);
}
