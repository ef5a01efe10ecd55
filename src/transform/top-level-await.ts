/** The ESTree nodes we look at; any parser that produces ESTree (Rollup, Rolldown, acorn) will do. */
export interface Node {
  type: string;
  [key: string]: unknown;
}

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/**
 * Whether the program awaits at its top level (outside any function). Such a module's body may
 * finish in a later job, so the runtime cannot tell a throw from a pause right after the prologue.
 */
export function hasTopLevelAwait(program: Node): boolean {
  const stack: unknown[] = [program];
  while (stack.length > 0) {
    const node = stack.pop() as Node | null;
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    if (typeof node.type !== 'string') continue;
    if (node.type === 'AwaitExpression') return true;
    if ((node.type === 'ForOfStatement' && node.await === true) || (node.type === 'VariableDeclaration' && node.kind === 'await using')) return true;
    if (FUNCTIONS.has(node.type)) continue;
    for (const key in node) {
      if (key === 'type' || key === 'loc' || key === 'range' || key === 'start' || key === 'end') continue;
      const child = node[key];
      if (child && typeof child === 'object') stack.push(child);
    }
  }
  return false;
}
