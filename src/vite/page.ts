import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReloadRecord } from '../ledger/report.ts';
import { PageHistory } from './page-history.ts';
import { PAGE_HTML, PAGE_SCRIPT, PAGE_STYLE } from './page-html.ts';

/** Where the dev server serves the ledger page; `records.json` and `events` sit below it. */
export const PAGE_PATH = '/__orm-hmr';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only our inline script and style, and requests back to this server: the page loads nothing from elsewhere. */
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  `style-src ${sha256(PAGE_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface PageOptions {
  /** Records kept for the page and `records.json`. @default 500 */
  limit?: number;
  /** A comment line on each event stream this often, so proxies and browsers keep it open. @default 15000 */
  keepAliveMs?: number;
}

export interface LedgerPage {
  /** Connect middleware: the page, `records.json` and `events` under PAGE_PATH; anything else goes on. */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  readonly history: PageHistory;
  /** Open event streams. */
  readonly clients: number;
  /** Stops listening for records and ends every stream: the dev server is closing. */
  close(): void;
}

type ReportSource = { onReport(listener: (record: ReloadRecord) => void): () => void };

/** The ledger page of one dev server: its history starts with the server. */
export function createPage(runtime: ReportSource, { limit = 500, keepAliveMs = 15_000 }: PageOptions = {}): LedgerPage {
  const history = new PageHistory(limit);
  const clients = new Set<ServerResponse>();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const send = (res: ServerResponse, chunk: string) => {
    if (!res.destroyed && !res.writableEnded) res.write(chunk);
  };
  const broadcast = (chunk: string) => {
    for (const res of clients) send(res, chunk);
  };
  const drop = (res: ServerResponse) => {
    clients.delete(res);
    if (clients.size === 0 && keepAlive) {
      clearInterval(keepAlive);
      keepAlive = undefined;
    }
  };

  const unsubscribe = runtime.onReport((record) => {
    broadcast(`event: record\ndata: ${history.add(record)}\n\n`);
  });

  function stream(req: IncomingMessage, res: ServerResponse) {
    // 204 tells EventSource not to reconnect: this server is going away.
    if (closed) return void res.writeHead(204).end();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD') return void res.end();
    // History first, in the same job as the subscription: no record can fall in between.
    send(res, `retry: 2000\nevent: history\ndata: ${JSON.stringify({ limit, records: history.list() })}\n\n`);
    clients.add(res);
    keepAlive ??= setInterval(() => broadcast(': keep-alive\n\n'), keepAliveMs).unref();
    // The response closes when the client goes away (or we end it).
    res.on('close', () => drop(res));
  }

  return {
    history,
    get clients() {
      return clients.size;
    },
    handle(req, res, next) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path === PAGE_PATH || path === `${PAGE_PATH}/`) {
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': CSP,
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        });
        return void res.end(PAGE_HTML);
      }
      if (path === `${PAGE_PATH}/records.json`) {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
        return void res.end(JSON.stringify(history.list()));
      }
      if (path === `${PAGE_PATH}/events`) return stream(req, res);
      next();
    },
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const res of clients) res.end();
      clients.clear();
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = undefined;
    },
  };
}
