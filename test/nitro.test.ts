import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { clickModel, eventModel, startNitroApp, userModel, type NitroDev } from './helpers/nitro-app.ts';
import { until } from './helpers/project.ts';

// A real Nitro 3 app on Vite (test/nitro-app): its server code runs in Nitro's dev worker thread,
// through a Vite module runner. orm-hmr's runtime lives in that thread; the ledger page in Vite's.
describe('Nitro 3, vite dev (the nitro environment, in the dev worker thread)', () => {
  let dev: NitroDev | undefined;
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
  });

  it('serves each model edit on the next request, discriminator included, and measures in the worker', async () => {
    dev = await startNitroApp({ MONGODB_URI: inject('mongoUri') });
    const fields = () => dev!.get('/api/fields');
    for (let v = 1; v <= 4; v++) {
      await dev.edit('models/user.ts', userModel(`u${v}`), async () => (await fields()).user.includes(`u${v}`));
      expect((await fields()).user).not.toContain(`u${v - 1}`);
    }
    await dev.edit('models/click.ts', clickModel('c1'), async () => (await fields()).click.includes('c1'));
    expect((await fields()).registered).toBe(true);
    await dev.edit('models/event.ts', eventModel('e1'), async () => (await fields()).click.includes('e1'));
    expect((await fields()).registered).toBe(true); // the base's discriminators hold the new Click
    expect((await dev.post('/api/clicks', { x: 1, c1: 7, e1: 'one' })).c1).toBe(7);

    // The runtime that purged and measured is the worker's.
    const { record, isMainThread } = await until(async () => {
      const settled = await dev!.get('/api/settled');
      return settled.record?.files.includes('models/event.ts') && settled;
    }, 30_000, 'the batch of the event edit');
    expect(isMainThread).toBe(false);
    // Counted in the worker: one generation of each model, edited or not.
    expect(record.alive).toEqual({ User: 1, Event: 1, Click: 1 });
    expect(record.verdict).toBe('ok');

    // The memory line, in the terminal running vite dev (the worker's console goes there).
    const text = () => dev!.output.join('');
    // Reloads that came while the worker was busy share one line (its files listed first).
    expect(text()).toMatch(/\[orm-hmr\] reload #\d+ [^·]*models\/user\.ts[^·]* · purged [^·]*mongoose:User/);
    expect(text()).toMatch(/purged [^·]*mongoose:Click/);
    expect(text()).not.toMatch(/OverwriteModelError|Cannot overwrite/);
    expect(text()).not.toMatch(/leaks on reload/);

    // The report option of vite.config.ts reached the worker: it wrote the report.
    const report = readFileSync(dev.project.path('.data/orm-hmr.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(report.at(-1).reload).toBe(record.reload);

    // The ledger page, served by Vite in the main thread, has the worker's records.
    const page = await fetch(`${dev.url}/__orm-hmr`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const records = await until(async () => {
      const list = await dev!.get<{ reload: number; files: string[] }[]>('/__orm-hmr/records.json');
      return list.some((r) => r.reload === record.reload) && list;
    }, 5_000, 'the worker records on the page');
    expect(records.some((r) => r.files.includes('models/user.ts'))).toBe(true);
  }, 180_000);
});
