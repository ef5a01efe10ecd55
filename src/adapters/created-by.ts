/**
 * Whether a client being constructed now was created by a library rather than by the app's own
 * code: TypeORM opens its better-sqlite3 database and its pg pool itself, Sequelize and knex open pg
 * clients, MikroORM creates knex. Those clients belong to that library (its DataSource, its pool),
 * which may well be reused across reloads: closing them under it would break it.
 *
 * Read from the stack at construction (clients are made rarely): past our own frames and the
 * driver's (`own`: `pg`, `pg-pool`) comes whoever called it. That caller's file in a
 * `node_modules` folder means a library. No stack, or no such frame: the app's.
 */
export function createdByLibrary(own: readonly string[]): boolean {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 25;
  try {
    Error.captureStackTrace(holder, createdByLibrary);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const ownRE = new RegExp(`[\\\\/]node_modules[\\\\/](?:${own.map(escape).join('|')})[\\\\/]`);
  for (const line of (holder.stack ?? '').split('\n').slice(1)) {
    const file = fileOf(line);
    if (!file || file.startsWith('node:') || (OURS && file.startsWith(OURS)) || ownRE.test(file)) continue;
    return /[\\/]node_modules[\\/]/.test(file);
  }
  return false;
}

/** The file of a V8 stack line: `at f (/a/b.js:1:2)`, `at /a/b.js:1:2`, `at file:///a/b.js:1:2`. */
function fileOf(line: string | undefined): string | undefined {
  return /\(?((?:file:\/\/|\/|[A-Za-z]:\\)[^():]*|node:[^():]+)(?::\d+){0,2}\)?\s*$/.exec(line ?? '')?.[1];
}

function escape(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Our own folder (dist/ or src/), whose frames (the hooks that call us) are skipped. */
const OURS = fileOf(new Error().stack?.split('\n')[1])?.replace(/[\\/]adapters[\\/][^\\/]*$/, '/');
