/** An error's message, or the thrown value as text: what our log lines show. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
