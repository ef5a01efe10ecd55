/// <reference path="../node_modules/webpack/module.d.ts" />
import http from 'node:http';
import { handle } from './app.ts';

// The same app as under Vite, as a webpack server build: the HTTP server stays up and accepts
// updates of the app below it (webpack/hot/poll checks for them every second).
const port = Number(process.env.PORT ?? 5174);
http.createServer((req, res) => void handle(req, res)).listen(port, () => {
  console.log(`[playground] webpack server HMR on http://localhost:${port}/api/users`);
});

if (import.meta.webpackHot) {
  import.meta.webpackHot.accept('./app.ts', () => console.log('[playground] app reloaded'));
}
