import { expect, it } from 'vitest';
import { parseDevArgs } from '../src/node/args.ts';

it('splits our options, Node flags, the entry and the app arguments', () => {
  expect(parseDevArgs(['--env-file=.env', '--inspect', '-C', 'dev', '--page', 'app', 'src/server.ts', '--', '--port', '4000'])).toEqual({
    nodeFlags: ['--env-file=.env', '--inspect', '-C', 'dev'],
    options: { entry: 'src/server.ts', args: ['--port', '4000'], page: 'app', config: undefined, envFiles: ['.env'], conditions: ['dev'], plugin: {} },
  });
  // Without `--`, everything after the entry is the app's, as with `node entry ...`.
  expect(parseDevArgs(['--env-file', 'a.env', '--env-file-if-exists=b.env', '--page=4000', '--config=vite.config.ts', 'server.ts', '--inspect'])).toEqual({
    nodeFlags: ['--env-file', 'a.env', '--env-file-if-exists=b.env'],
    options: { entry: 'server.ts', args: ['--inspect'], page: 4000, config: 'vite.config.ts', envFiles: ['a.env', 'b.env'], conditions: [], plugin: {} },
  });
  expect(parseDevArgs(['--conditions=custom', 'server.js'])).toMatchObject({ nodeFlags: ['--conditions=custom'], options: { conditions: ['custom'], page: 0 } });
});

it('says what is wrong with the arguments', () => {
  expect(parseDevArgs([])).toEqual({ error: 'no entry given' });
  expect(parseDevArgs(['--inspect'])).toEqual({ error: 'no entry given' });
  expect(parseDevArgs(['--page=nowhere', 'server.ts'])).toEqual({ error: '--page wants a port, app or off; got "nowhere"' });
  expect(parseDevArgs(['--help'])).toEqual({ help: true });
});
