import { clickModel, eventModel, userModel } from './fixtures.ts';
import { join } from 'node:path';
import { runtimeFile } from './webpack.ts';

const gcFile = join(import.meta.dirname, '../../dist/ledger/gc.js');

// The NestJS-style server app the webpack and Rspack suites build: plain JavaScript in .ts files
// (the bundler parses them itself), the same model files the Vite suites use.

/** The routes, importing the models. */
export function app(prefix: string): string {
  return `import mongoose from 'mongoose';
import { aliveGenerations, settled } from ${JSON.stringify(runtimeFile)};
import { getGc } from ${JSON.stringify(gcFile)};
import { User } from './models/user.ts';
import { Click } from './models/click.ts';
import { Event } from './models/event.ts';

if (process.env.MONGODB_URI && mongoose.connection.readyState === 0) mongoose.connect(process.env.MONGODB_URI);

export const routes = {
  '/fields': () => Object.keys(User.schema.paths),
  '/byName': () => Object.keys(mongoose.model(${JSON.stringify(`${prefix}User`)}).schema.paths),
  '/click': () => ({ fields: Object.keys(Click.schema.paths), registered: Event.discriminators[${JSON.stringify(`${prefix}Click`)}] === Click }),
  '/create': async () => (await User.create({ name: 'ada', f3: 'three' })).toObject(),
  '/settled': async () => (await settled()) ?? null,
  '/pid': () => process.pid,
  // Generations alive after full GCs, now (a batch's record is measured once, when it settles,
  // and may catch the previous app's server still closing).
  '/alive': async () => {
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      getGc()?.();
    }
    await new Promise((resolve) => setImmediate(resolve));
    return aliveGenerations();
  },
};
`;
}

/**
 * The HTTP server. \`nest\`: NestJS's recipe, the entry accepts itself and its dispose closes the
 * server. \`boundary\`: the server stays up and accepts updates of the routes module below it.
 */
export function server(style: 'nest' | 'boundary'): string {
  const handler = `async (req, res) => {
  try {
    const body = await routes[req.url]();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
  }
}`;
  const hot =
    style === 'nest'
      ? `if (import.meta.webpackHot) {
  import.meta.webpackHot.accept();
  import.meta.webpackHot.dispose(() => {
    server.close();
    server.closeAllConnections();
  });
}`
      : `if (import.meta.webpackHot) {
  import.meta.webpackHot.accept('./app.ts', () => console.log('[app] routes reloaded'), (error) => console.error('[app] reload failed: ' + error.message));
}`;
  return `import http from 'node:http';
import { routes } from './app.ts';

const server = http.createServer(${handler});
server.listen(Number(process.env.PORT), '127.0.0.1');

${hot}
`;
}

// webpack parses these .ts files itself: the fixtures are plain JavaScript with a .ts name, the
// same files the Vite suites use.
export function files(prefix: string, style: 'nest' | 'boundary' = 'nest') {
  return {
    'server.js': server(style),
    'app.ts': app(prefix),
    'models/user.ts': userModel(prefix, 1),
    'models/event.ts': eventModel(prefix, 1),
    'models/click.ts': clickModel(prefix, 1),
  };
}

