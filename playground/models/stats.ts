import mongoose, { Schema } from 'mongoose';
// import { onUnload } from 'orm-hmr';

/** Page views per path, served from a small cache refreshed every 10 s. */
export const Stat = mongoose.model('Stat', new Schema({ path: String, views: Number }));

// A leak on purpose, to show the ledger: every reload of this file starts one more interval, and
// the old ones keep running with their generation's model and cache. Save this file three times:
// orm-hmr names it once. The fix is the onUnload line below (or the plugin's undoSideEffects).
let cache: unknown[] = [];
const refresh = setInterval(async () => {
  cache = await Stat.find().lean().catch(() => cache);
}, 10_000);
// onUnload(() => clearInterval(refresh));
void refresh;

export const cachedStats = (): unknown[] => cache;
