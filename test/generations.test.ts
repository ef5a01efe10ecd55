import { setImmediate as settle } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { getGc } from '../src/ledger/gc.ts';
import { GenerationCounter } from '../src/ledger/generations.ts';

/** A full GC, then the end of the job: a WeakRef read in this job keeps its target until it ends. */
async function collect(): Promise<void> {
  await settle();
  getGc()!();
  await settle();
}

describe('GenerationCounter', () => {
  it('counts every label in one census: all, since a dev server, and the newest file', () => {
    const counter = new GenerationCounter();
    const user1 = class User {};
    const user2 = class User {};
    const post = class Post {};
    counter.track('User', user1, 'models/user.ts', 1, 1);
    counter.track('User', user2, 'models/user.ts', 2, 2);
    // The same value under two registries (mongoose.models and connection.models) is one model.
    counter.track('User', user2, 'models/user.ts', 2, 2);
    counter.track('Post', post, 'models/post.ts', 1, 1);
    const census = counter.census(2);
    expect(census.all).toEqual({ User: 2, Post: 1 });
    expect(census.since).toEqual({ User: 1 });
    expect(census.newestFile).toEqual({ User: 'models/user.ts', Post: 'models/post.ts' });
    expect(counter.count()).toEqual({ User: 2, Post: 1 });
    expect(counter.piledUp()).toEqual(['User']);
    expect(counter.isNew(user1)).toBe(false);
    expect(counter.isNew(class Other {})).toBe(true);
  });

  it('holds a committed generation strongly only until the next read, or until its file commits a newer one', async () => {
    const counter = new GenerationCounter();
    let old: object | undefined = { generation: 1 };
    const current = { generation: 2 };
    counter.track('User', old, 'models/user.ts', 1, 1, true);
    counter.track('Post', { generation: 1 }, 'models/post.ts', 1, 1, true);
    old = undefined;
    // Not read yet: the file's live generation (and the other file's) is pending, held strongly.
    await collect();
    expect(counter.count()).toEqual({ User: 1, Post: 1 });
    await collect();
    // Read since: held weakly, and nothing else holds them.
    expect(counter.count()).toEqual({});

    // Saves in a row with no read between them (a batch that never settles) keep only the newest.
    let first: object | undefined = { generation: 1 };
    let second: object | undefined = { generation: 2 };
    counter.track('User', first, 'models/user.ts', 1, 1, true);
    counter.track('User', second, 'models/user.ts', 2, 1, true);
    counter.track('User', current, 'models/user.ts', 3, 1, true);
    first = undefined;
    second = undefined;
    await collect();
    expect(counter.count()).toEqual({ User: 1 });
    expect(counter.describe('User')).toEqual([{ file: 'models/user.ts', generation: 3, server: 1 }]);
    expect(current.generation).toBe(2);
  });

  it('a value dropped after it was read is counted out after a GC; a forgotten file is not counted at all', async () => {
    const counter = new GenerationCounter();
    let first: object | undefined = { n: 1 };
    const kept = { n: 2 };
    counter.track('Post', first, 'models/post.ts', 1, 1);
    counter.track('Post', kept, 'models/post.ts', 2, 1);
    expect(counter.count()).toEqual({ Post: 2 });
    first = undefined;
    await collect();
    expect(counter.count()).toEqual({ Post: 1 });
    counter.forget('models/post.ts');
    expect(counter.census().all).toEqual({});
    expect(kept.n).toBe(2);
  });
});
