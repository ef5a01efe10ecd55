import { join } from 'node:path';
import type { Plugin } from 'vite';
import { DatabaseUnavailable, startDatabase, type Database } from '../db/ferretdb.js';

const INDEX = `orm-hmr playground

GET  /api/users    users, and the User schema's fields
POST /api/users    {"name": "Ada", "email": "ada@example.com"}
GET  /api/posts    posts with their author populated
POST /api/posts    {"title": "Hi", "author": "<user id>"}
GET  /api/events   events (Click is a discriminator of Event)
POST /api/clicks   {"x": 1, "y": 2}
GET  /api/models   every registered model and its fields

Edit playground/models/*.ts and request again: the new schema answers, and the terminal
prints one [orm-hmr] memory line per save.
`;

/**
 * Serves playground/app.ts under /api through Vite's dev server, loading it with `ssrLoadModule`
 * on every request (as many frameworks do), and starts the embedded database first.
 */
export function playground(): Plugin {
  let database: Database | undefined;
  return {
    name: 'playground',
    apply: 'serve',
    async configureServer(server) {
      const log = (message: string) => server.config.logger.info(`[playground] ${message}`, { timestamp: true });
      try {
        database = await startDatabase({ dir: join(server.config.root, '.data'), database: 'playground' });
      } catch (error) {
        if (!(error instanceof DatabaseUnavailable)) throw error;
        // Its message says what to do (install Go, or set MONGODB_URI): that, not Vite's "error when starting dev server" and a stack.
        server.config.logger.error(error.message);
        process.exit(1);
      }
      process.env.MONGODB_URI = database.uri;
      log(`database ${database.embedded ? '(embedded FerretDB) ' : ''}ready`);
      const port = server.config.server.port ?? 5173;
      log(`try: curl localhost:${port}/api/users, then edit playground/models/user.ts and curl again`);
      server.middlewares.use(async (req, res, next) => {
        if (req.url === '/' || req.url === '/index.html') {
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end(INDEX);
          return;
        }
        if (!req.url?.startsWith('/api')) return next();
        try {
          const app = await server.ssrLoadModule('/app.ts');
          await app.handle(req, res);
        } catch (error) {
          server.ssrFixStacktrace(error as Error);
          res.statusCode = 500;
          res.end(String((error as Error).stack ?? error));
        }
      });
    },
    async buildEnd() {
      await database?.stop();
      database = undefined;
    },
  };
}
