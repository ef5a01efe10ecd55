import type { TestProject } from 'vitest/node';
import { installNestedApps } from './apps.ts';
import { findChromium, type Chromium } from './chromium.ts';
import { ensureNativeAddons } from './native.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: Chromium;
  }
}

/**
 * What the suite needs beyond `npm ci`, installed on first use (each says so while it works):
 * the nested apps' node_modules, a native addon for the running Node, and a Chromium.
 * Runs before test/setup/database.ts, which builds and starts the embedded database.
 */
export default async function setup(project: TestProject) {
  const [, , chromium] = await Promise.all([installNestedApps(), ensureNativeAddons(), findChromium()]);
  project.provide('chromium', chromium);
}
