import type { Entry } from './types.ts';

// Only the Sequelize 6 internals we read or call.
export interface ModelLike {
  name: string;
  sequelize?: ModelsOwner;
  associations: Record<string, AssociationLike>;
  prototype: object;
}
export interface ModelsOwner {
  models: Record<string, ModelLike>;
  modelManager: { models: ModelLike[]; addModel(model: ModelLike): unknown; removeModel(model: ModelLike): void };
  isDefined(name: string): boolean;
}
interface AssociationLike {
  source: ModelLike;
  target: ModelLike;
  associationType: string;
  associationAccessor: string;
  through?: { model?: ModelLike };
  _injectAttributes?(): unknown;
  mixin?(prototype: object): void;
}

/**
 * Models and associations, by Sequelize instance. A model entry's removal takes the model out of
 * `sequelize.models` and the model manager (so `sync()` stops creating it) and remembers it by
 * name until its file commits, when associations that other files made with it move to the
 * model of that name the file defined again.
 */
export class SequelizeModels {
  /** Models their file's new evaluation removed, by name, until it commits: weakly, a removed model must go. */
  readonly #removed = new WeakMap<ModelsOwner, Map<string, WeakRef<ModelLike>>>();

  modelEntry(sequelize: ModelsOwner, model: ModelLike): Entry {
    const name = model.name;
    return {
      container: sequelize.models,
      key: name,
      value: model,
      label: name,
      track: true,
      remove: () => {
        if (sequelize.models[name] !== model) return () => {};
        sequelize.modelManager.removeModel(model);
        let removed = this.#removed.get(sequelize);
        if (!removed) this.#removed.set(sequelize, (removed = new Map()));
        const ref = new WeakRef(model);
        removed.set(name, ref);
        return () => {
          if (removed.get(name) === ref) removed.delete(name);
          if (!sequelize.isDefined(name)) sequelize.modelManager.addModel(model);
        };
      },
    };
  }

  /**
   * An association lives in its source's `associations` under its accessor. Removed from whichever
   * model is its source now: it may have moved to a re-evaluated source since it was made.
   */
  associationEntry(association: AssociationLike): Entry {
    const key = association.associationAccessor;
    return {
      container: association.source.associations,
      key,
      value: association,
      remove: () => {
        const holder = association.source.associations;
        if (holder[key] !== association) return () => {};
        delete holder[key];
        return () => {
          if (!Object.hasOwn(holder, key)) holder[key] = association;
        };
      },
    };
  }

  /**
   * A file defined these models again. Associations other files made keep working with the new
   * classes: those targeting the previous class of a name now target the new one (`include: User`
   * and `include: 'User'` then query the new model), and those the previous class was the source
   * of, which its own file did not make again, move onto the new class.
   */
  defined(models: ModelLike[]): void {
    for (const model of models) {
      const sequelize = model.sequelize;
      if (!sequelize || sequelize.models[model.name] !== model) continue;
      const removed = this.#removed.get(sequelize);
      const previous = removed?.get(model.name)?.deref();
      removed?.delete(model.name);
      const stale = (candidate: unknown): candidate is ModelLike =>
        !!candidate && candidate !== model && (candidate as ModelLike).name === model.name && (candidate as ModelLike).sequelize === sequelize;
      for (const other of sequelize.modelManager.models) {
        for (const association of Object.values(other.associations ?? {})) {
          if (stale(association.target)) repoint(association, association.target, model);
          else if (stale(association.through?.model)) repoint(association, association.through.model, model);
        }
      }
      if (previous && previous !== model) {
        for (const [key, association] of Object.entries(previous.associations ?? {})) {
          if (Object.hasOwn(model.associations, key)) continue;
          delete previous.associations[key];
          repoint(association, previous, model);
          model.associations[key] = association;
          association.mixin?.(model.prototype);
        }
      }
    }
  }
}

/**
 * Points an association (and the helper associations a belongs-to-many keeps on its through
 * model) from `from` to `to`, then injects its foreign key again: a has-one or has-many keeps it
 * on its target, which is the new class now and was defined without it.
 */
function repoint(association: AssociationLike, from: ModelLike, to: ModelLike): void {
  swap(association, from, to, new Set());
  if (association.associationType !== 'BelongsToMany') association._injectAttributes?.();
}

function swap(association: AssociationLike, from: ModelLike, to: ModelLike, seen: Set<object>): void {
  if (seen.has(association)) return;
  seen.add(association);
  const fields = association as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'paired') continue; // the other side's association, on its own model
    if (value === from) fields[key] = to;
    else if (isAssociation(value)) swap(value, from, to, seen);
  }
  if (association.through?.model === from) association.through.model = to;
}

function isAssociation(value: unknown): value is AssociationLike {
  return !!value && typeof value === 'object' && typeof (value as AssociationLike).associationType === 'string' && 'source' in value && 'target' in value;
}
