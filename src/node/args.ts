import type { DevOptions } from './protocol.ts';

/** Node flags whose value may come as the next argument (`--env-file .env`, `-C dev`). */
const NODE_FLAGS_WITH_VALUE = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--env-file',
  '--env-file-if-exists',
  '--title',
  '--input-type',
]);

export const USAGE = `Usage: orm-hmr dev [options] [node flags] <entry> [--] [app args]

Runs <entry> (a Node server: Express, Fastify, Koa, Hono, node:http; TypeScript or JavaScript)
through Vite's module runner and reloads the modules you save in place, keeping the listening
server. Node flags (--env-file, --inspect, --conditions, ...) are passed to Node.

Options:
  --page <port|app|off>  the ledger page: on a port of its own (default: any free port, printed
                         at start), on the app's own port under /__orm-hmr, or off
  --config <file>        a Vite config to load (plugins, aliases); by default none
  -h, --help             this text

Type rs + enter to restart the process.`;

export interface ParsedArgs {
  nodeFlags: string[];
  options: DevOptions;
}

/** `orm-hmr dev ...` arguments (after `dev`): ours, Node's, the entry, the app's. */
export function parseDevArgs(argv: string[]): ParsedArgs | { help: true } | { error: string } {
  const nodeFlags: string[] = [];
  const envFiles: string[] = [];
  const conditions: string[] = [];
  let page: DevOptions['page'] = 0;
  let config: string | undefined;
  let entry: string | undefined;
  let i = 0;
  for (; i < argv.length && entry === undefined; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '--') continue;
    if (!arg.startsWith('-')) {
      entry = arg;
      break;
    }
    const [name, inline] = splitFlag(arg);
    const value = () => inline ?? argv[++i];
    if (name === '--page') {
      const v = value();
      if (v === 'app' || v === 'off') page = v;
      else if (v !== undefined && /^\d+$/.test(v)) page = Number(v);
      else return { error: `--page wants a port, app or off; got ${JSON.stringify(v)}` };
      continue;
    }
    if (name === '--config') {
      config = value();
      if (!config) return { error: '--config wants a file' };
      continue;
    }
    // A Node flag: kept as given, its value read for what we must know.
    const separate = NODE_FLAGS_WITH_VALUE.has(name) && inline === undefined;
    const flagValue = separate ? argv[++i] : inline;
    nodeFlags.push(arg);
    // Short flags take no `=value` (`-C=dev` is a bad option): the value stays a separate argument.
    if (separate && flagValue !== undefined) nodeFlags.push(flagValue);
    if ((name === '--env-file' || name === '--env-file-if-exists') && flagValue) envFiles.push(flagValue);
    if ((name === '--conditions' || name === '-C') && flagValue) conditions.push(flagValue);
  }
  if (entry === undefined) return { error: 'no entry given' };
  let args = argv.slice(i + 1);
  if (args[0] === '--') args = args.slice(1);
  return { nodeFlags, options: { entry, args, page, config, envFiles, conditions, plugin: {} } };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq === -1 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
