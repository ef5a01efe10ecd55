/**
 * `node --import orm-hmr/node`: applies orm-hmr's transform to the app's ES modules as Node loads
 * them, for tools that reload modules by loading them again (dynohot, hot-hook). Put it before
 * theirs: `node --import orm-hmr/node --import dynohot ...`, so theirs sees our output.
 */
import { register } from 'node:module';
import { getRuntime } from '../runtime/hook.ts';
import type { HooksData } from './loader-hooks.ts';

const data: HooksData = { packages: getRuntime().host.packages(), root: process.cwd() };
register('./loader-hooks.js', { parentURL: import.meta.url, data });
