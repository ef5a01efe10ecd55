import type { AdapterHost } from './adapter-host.ts';
import { snapshot, stillRegistered, type OwnedEntry } from './entries.ts';
import type { Evaluation } from './module-record.ts';
import type { Owners } from './owners.ts';

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
  for (const entry of evaluation.journal.values()) if (stillRegistered(entry)) fresh.push(entry);
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
