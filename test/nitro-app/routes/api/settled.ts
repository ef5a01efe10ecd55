import { defineHandler } from 'nitro/h3';
import { isMainThread } from 'node:worker_threads';
import { settled } from 'orm-hmr/runtime';

// The last reload batch as orm-hmr measured it, in the thread that runs this route.
export default defineHandler(async () => ({ record: (await settled()) ?? null, isMainThread }));
