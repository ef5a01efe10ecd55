import { isIP } from 'node:net';
import type { ResolvedConfig } from 'vite';

/**
 * Vite's own DNS-rebinding check (its `server.allowedHosts` rules, as in Vite 6's hostCheck), for
 * our page: we register it before every other plugin's middleware so that a catch-all one (Hono's
 * dev server) cannot answer first, and Vite 6 runs its own check only after plugin middlewares.
 */
export function isHostAllowed(config: ResolvedConfig, host: string | undefined): boolean {
  const server = config.server;
  if (server.allowedHosts === true || server.https) return true;
  if (!host) return false;
  const trimmed = host.trim();
  if (trimmed.startsWith('[')) {
    const end = trimmed.indexOf(']');
    return end > 0 && isIP(trimmed.slice(1, end)) === 6;
  }
  const colon = trimmed.indexOf(':');
  const hostname = colon < 0 ? trimmed : trimmed.slice(0, colon);
  if (isIP(hostname) === 4 || hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  const additional = [
    typeof server.host === 'string' ? server.host : undefined,
    typeof server.hmr === 'object' ? server.hmr?.host : undefined,
    server.origin ? safeHostname(server.origin) : undefined,
  ];
  if (additional.includes(hostname)) return true;
  return (server.allowedHosts ?? []).some((allowed) => allowed === hostname || (allowed.startsWith('.') && (allowed.slice(1) === hostname || hostname.endsWith(allowed))));
}

function safeHostname(origin: string): string | undefined {
  try {
    return new URL(origin).hostname;
  } catch {
    return undefined;
  }
}
