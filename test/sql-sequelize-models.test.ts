import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { onReport, settled, unload, type ReloadRecord } from '../dist/runtime/index.js';
import { ownDatabase } from './helpers/own-database.ts';
import { Project, startVite, until, type Dev, type LoadMode } from './helpers/project.ts';

// Sequelize 6 models and associations across files, on the real PostgreSQL of the global setup (a
// database of its own, so its connections do not count in the connection-count tests beside it):
// a model file edited while another file's associations point at it, an association file
// reloaded 30 times, a model removed from its file.

interface ModelClass {
  name: string;
  associations: Record<string, { target: ModelClass; source: ModelClass }>;
  sequelize: { models: Record<string, ModelClass>; modelManager: { models: ModelClass[] }; sync(): Promise<unknown>; close(): Promise<void> };
  findAll(options?: object): Promise<{ get(key: string): unknown; toJSON(): Record<string, any> }[]>;
  create(values: object): Promise<{ get(key: string): unknown }>;
}

let url: string;
let client: pg.Client;
let drop: (() => Promise<void>) | undefined;
const suffix = `${process.pid}_${Date.now()}`;
let tables = 0;
const records: ReloadRecord[] = [];
let unsubscribe: () => void;
/** The most generations of model `name` alive after GC in the records measured since `from`. */
const mostAlive = (name: string, from: number) => Math.max(0, ...records.slice(from).filter((r) => r.gc && r.alive[name] !== undefined).map((r) => r.alive[name]!));

beforeAll(async () => {
  const shared = inject('postgresUrl');
  if (!shared) throw new Error(inject('postgresMissing'));
  ({ url, drop } = await ownDatabase(shared, 'orm_hmr_sequelize_models'));
  client = new pg.Client(url);
  await client.connect();
  unsubscribe = onReport((record) => records.push(record));
});
afterAll(async () => {
  unsubscribe?.();
  await client?.end();
  await drop?.();
});

const db = () => `import { Sequelize } from 'sequelize';
export const sequelize = new Sequelize(${JSON.stringify(url)}, { logging: false, pool: { max: 2 } });
`;

// `greeting` is virtual: a query returns the version of the User class it ran with.
const user = (version: number, t: number, accept = false) => `import { DataTypes } from 'sequelize';
import { sequelize } from './db.ts';

export const version = ${version};
export const User = sequelize.define('User', {
  name: DataTypes.TEXT,
  greeting: { type: DataTypes.VIRTUAL, get() { return 'user v${version}'; } },
}, { tableName: 'sql_assoc_users_${suffix}_${t}', timestamps: false });
${accept ? 'if (import.meta.hot) import.meta.hot.accept();' : ''}
`;

// Associations both ways, made in post.ts: one on Post (its target is User), one on User.
const post = (version: number, t: number) => `import { DataTypes } from 'sequelize';
import { sequelize } from './db.ts';
import { User } from './user.ts';

export const version = ${version};
const evaluations = ((globalThis as { __assocPostEvaluations?: number }).__assocPostEvaluations ??= 0);
(globalThis as { __assocPostEvaluations?: number }).__assocPostEvaluations = evaluations + 1;
export const Post = sequelize.define('Post', { title: DataTypes.TEXT }, { tableName: 'sql_assoc_posts_${suffix}_${t}', timestamps: false });
Post.belongsTo(User);
User.hasMany(Post, { as: 'posts' });
`;

async function withProject<T>(files: Record<string, string>, run: (dev: Dev, project: Project) => Promise<T>, mode: LoadMode = 'ssrLoadModule'): Promise<T> {
  const project = new Project('sql-sequelize-models', files);
  const dev = await startVite(project, { mode });
  try {
    return await run(dev, project);
  } finally {
    for (const file of Object.keys(files)) unload(project.path(file));
    const { sequelize } = await dev.load<{ sequelize: ModelClass['sequelize'] }>('db.ts').catch(() => ({ sequelize: undefined }));
    await sequelize?.close();
    await dev.close();
    project.remove();
  }
}

describe('Sequelize 6 models and associations', () => {
  // Under the module runner a self-accepting user.ts is the only file evaluated again, so post.ts
  // keeps its Post and the associations it made; under ssrLoadModule post.ts (an importer) runs
  // again too, and its own associations are made afresh.
  it.each([
    ['runner', true],
    ['ssrLoadModule', false],
  ] as const)('a re-evaluated model (%s): associations point at the new class, include works by class and by alias', async (mode, accept) => {
    const t = ++tables;
    await withProject(
      { 'db.ts': db(), 'user.ts': user(1, t, accept), 'post.ts': post(1, t) },
      async (dev) => {
        (globalThis as { __assocPostEvaluations?: number }).__assocPostEvaluations = 0;
        const from = records.length;
        const first = await dev.load<{ Post: ModelClass; User: ModelClass }>('post.ts').then(async ({ Post }) => ({ Post, User: (await dev.load<{ User: ModelClass }>('user.ts')).User }));
        await first.Post.sequelize.sync();
        const ada = await first.User.create({ name: 'Ada' });
        await first.Post.create({ title: 'Notes', UserId: ada.get('id') });

        let previous = first.User;
        for (let version = 2; version <= 6; version++) {
          await dev.edit('user.ts', user(version, t, accept));
          // Under the runner, HMR evaluates user.ts by itself (importing post.ts again would
          // evaluate it again too, as a stale importer); under ssrLoadModule, loading does it.
          const User = await until(async () => {
            if (!accept) await dev.load('post.ts');
            const current = first.Post.sequelize.models.User;
            return current !== previous && current;
          }, 15_000, `user.ts version ${version}`);
          previous = User;
          await settled();
          const Post = accept ? first.Post : (await dev.load<{ Post: ModelClass }>('post.ts')).Post;
          expect(Post.sequelize.models.User).toBe(User);
          expect(Post.sequelize.models.Post).toBe(Post);
          expect(Post.associations.User.target).toBe(User);
          expect(Object.keys(Post.associations)).toEqual(['User']);

          const byClass = await Post.findAll({ include: User });
          expect(byClass.map((row) => row.toJSON().User?.greeting)).toEqual([`user v${version}`]);
          const byAlias = await Post.findAll({ include: 'User' });
          expect(byAlias.map((row) => row.toJSON().User?.greeting)).toEqual([`user v${version}`]);
          // The association post.ts made on User is on the new User (moved, or made again).
          expect(Object.keys(User.associations)).toEqual(['posts']);
          expect(User.associations.posts.source).toBe(User);
          expect(User.associations.posts.target).toBe(Post);
          const withPosts = await User.findAll({ include: 'posts' });
          expect(withPosts.map((row) => row.toJSON().posts.map((p: { title: string }) => p.title))).toEqual([['Notes']]);
        }
        const evaluations = (globalThis as { __assocPostEvaluations?: number }).__assocPostEvaluations;
        expect(evaluations).toBe(accept ? 1 : 6);
        // Not one more per edit (measured: 3 and 4 after the third edit, then flat). Alive: the
        // current User, the first and the previous one (this test holds them; under the runner
        // post.ts, never evaluated again, imported the first), and under ssrLoadModule the one
        // before, which the previous Post this loop held still targets.
        expect(mostAlive('User', from)).toBeLessThanOrEqual(accept ? 3 : 4);
      },
      mode,
    );
  });

  it('the file making associations, reloaded 30 times: one association each, no duplicate alias', async () => {
    const t = ++tables;
    await withProject({ 'db.ts': db(), 'user.ts': user(1, t), 'post.ts': post(1, t) }, async (dev) => {
      const from = records.length;
      const loaded = await dev.load<{ Post: ModelClass }>('post.ts');
      await loaded.Post.sequelize.sync();
      const { User } = await dev.load<{ User: ModelClass }>('user.ts');
      const ada = await User.create({ name: 'Ada' });
      await loaded.Post.create({ title: 'First', UserId: ada.get('id') });
      const errors: string[] = [];
      for (let version = 2; version <= 31; version++) {
        await dev.edit('post.ts', post(version, t));
        await until(
          async () => {
            try {
              return (await dev.load<{ version: number }>('post.ts')).version === version;
            } catch (error) {
              errors.push(String(error));
              return false;
            }
          },
          15_000,
          `post.ts version ${version}`,
        );
      }
      await settled();
      expect(errors.filter((e) => /alias/.test(e))).toEqual([]);
      const { Post } = await dev.load<{ Post: ModelClass }>('post.ts');
      expect(Object.keys(Post.associations)).toEqual(['User']);
      expect(Object.keys(User.associations)).toEqual(['posts']);
      expect(User.associations.posts.target).toBe(Post);
      expect(Post.sequelize.modelManager.models.filter((model) => model.name === 'Post')).toHaveLength(1);
      const rows = await User.findAll({ include: 'posts' });
      expect(rows.map((row) => row.toJSON().posts.map((p: { title: string }) => p.title))).toEqual([['First']]);
      expect(mostAlive('Post', from)).toBeLessThanOrEqual(2);
    });
  });

  it('a model removed or renamed in its file leaves sequelize.models, and sync() no longer creates its table', async () => {
    const tags = `sql_assoc_tags_${suffix}`;
    const labels = `sql_assoc_labels_${suffix}`;
    const kept = `sql_assoc_kept_${suffix}`;
    const models = (version: number) => `import { DataTypes } from 'sequelize';
import { sequelize } from './db.ts';

export const version = ${version};
export const Kept = sequelize.define('Kept', { name: DataTypes.TEXT }, { tableName: '${kept}', timestamps: false });
${version === 1 ? `export const Tag = sequelize.define('Tag', { name: DataTypes.TEXT }, { tableName: '${tags}', timestamps: false });` : `export const Label = sequelize.define('Label', { name: DataTypes.TEXT }, { tableName: '${labels}', timestamps: false });`}
`;
    await withProject({ 'db.ts': db(), 'models.ts': models(1) }, async (dev) => {
      const { Kept } = await dev.load<{ Kept: ModelClass }>('models.ts');
      const sequelize = Kept.sequelize;
      expect(Object.keys(sequelize.models).sort()).toEqual(['Kept', 'Tag']);
      await dev.edit('models.ts', models(2));
      await until(async () => (await dev.load<{ version: number }>('models.ts')).version === 2, 15_000, 'models.ts version 2');
      await settled();
      expect(Object.keys(sequelize.models).sort()).toEqual(['Kept', 'Label']);
      expect(sequelize.modelManager.models.map((model) => model.name).sort()).toEqual(['Kept', 'Label']);
      await sequelize.sync();
      const exists = async (table: string) => (await client.query('SELECT to_regclass($1) AS t', [table])).rows[0].t !== null;
      expect(await exists(labels)).toBe(true);
      expect(await exists(kept)).toBe(true);
      expect(await exists(tags)).toBe(false);
    });
  });
});
