import type { IncomingMessage, ServerResponse } from 'node:http';
import mongoose from 'mongoose';
import { connect } from './db.ts';
import { Click } from './models/click.ts';
import { Event } from './models/event.ts';
import { Post } from './models/post.ts';
import { Stat, cachedStats } from './models/stats.ts';
import { User } from './models/user.ts';

type Handler = (body: Record<string, unknown>, url: URL) => Promise<unknown>;

/** The playground's routes: GET lists, POST creates (JSON bodies). */
const routes: Record<string, Handler> = {
  'GET /api/users': async () => ({ fields: fieldsOf(User), users: await User.find().sort({ _id: -1 }).limit(20) }),
  'POST /api/users': async (body) => User.create(body),
  'GET /api/posts': async () => Post.find().sort({ _id: -1 }).limit(20).populate('author'),
  'POST /api/posts': async (body) => Post.create(body),
  'GET /api/events': async () => Event.find().sort({ _id: -1 }).limit(20),
  'GET /api/stats': async () => ({ cached: cachedStats(), count: await Stat.countDocuments() }),
  'POST /api/clicks': async (body) => Click.create(body),
  'GET /api/models': async () =>
    Object.fromEntries(mongoose.modelNames().map((name) => [name, fieldsOf(mongoose.model(name))])),
};

function fieldsOf(model: { schema: mongoose.Schema }): string[] {
  return Object.keys(model.schema.paths).filter((path) => !path.startsWith('_'));
}

export async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://playground');
  const route = routes[`${req.method} ${url.pathname}`];
  if (!route) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no such route', routes: Object.keys(routes) }));
    return;
  }
  try {
    await connect();
    const result = await route(await readJson(req), url);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result, null, 2));
  } catch (error) {
    const status = error instanceof mongoose.Error.ValidationError ? 400 : 500;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String((error as Error).message ?? error) }));
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (req.method === 'GET') return {};
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}
