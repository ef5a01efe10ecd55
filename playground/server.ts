/// <reference path="../node_modules/webpack/module.d.ts" />
import http from 'node:http';
import { handle } from './app.ts';

// The same app as under Vite, as a plain Node server: `npm run dev:webpack` builds it with webpack's
// server HMR (the HTTP server stays up and accepts updates of the app below it), and
// the benchmark also runs it under `tsx watch`, which restarts the process on every save.
const port = Number(process.env.PORT ?? 5174);
http.createServer((req, res) => void handle(req, res)).listen(port, () => {
  console.log(`[playground] listening on http://localhost:${port}/api/users`);
});

if (import.meta.webpackHot) {
  import.meta.webpackHot.accept('./app.ts', () => console.log('[playground] app reloaded'));
}
