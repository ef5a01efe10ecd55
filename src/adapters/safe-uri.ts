/**
 * What a connection string points at, safe to print: `host:port/db`, never the credentials or
 * the query (which may hold a password or a token). Everything up to the last `@` before the
 * query goes, so even a password with an unescaped `/` cannot show.
 */
export function safeTarget(uri: unknown): string {
  if (typeof uri !== 'string') return 'unknown';
  const withoutQuery = uri.replace(/^[a-z+]+:\/\//i, '').split('?')[0]!;
  const target = withoutQuery.slice(withoutQuery.lastIndexOf('@') + 1).replace(/\/$/, '');
  return target || 'unknown';
}
