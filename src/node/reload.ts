import type { ModuleRunner } from 'vite/module-runner';

type EvaluatedModules = ModuleRunner['evaluatedModules'];
type EvaluatedNode = NonNullable<ReturnType<EvaluatedModules['getModuleById']>>;

/**
 * Invalidates, in the module runner, the modules of `files` and every module that imports them,
 * up to the entry, as vite-node's `invalidateDepTree` does: the next `runner.import(entry)`
 * evaluates exactly those again and reuses every other module as it is. Returns the files of the
 * modules invalidated.
 */
export function invalidateWithImporters(modules: EvaluatedModules, files: Iterable<string>, extraIds: Iterable<string> = []): Set<string> {
  const stack: EvaluatedNode[] = [];
  for (const file of files) stack.push(...(modules.getModulesByFile(file) ?? []));
  for (const id of extraIds) {
    const node = modules.getModuleById(id);
    if (node) stack.push(node);
  }
  const seen = new Set<EvaluatedNode>();
  const invalidated = new Set<string>();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    modules.invalidateModule(node);
    invalidated.add(node.file ?? node.id);
    for (const importer of node.importers) {
      const parent = modules.getModuleById(importer);
      if (parent) stack.push(parent);
    }
  }
  return invalidated;
}

/** Modules whose evaluation rejected (after a failed import): they must evaluate again next time. */
export async function rejectedModules(modules: EvaluatedModules, waitMs = 100): Promise<string[]> {
  const ids: string[] = [];
  const settled = [...modules.idToModuleMap.values()].map((node) =>
    node.promise?.then(
      () => undefined,
      () => void ids.push(node.id),
    ),
  );
  // A module still pending (a top-level await that never ends) must not hold the reload up.
  await Promise.race([Promise.all(settled), new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
  return ids;
}
