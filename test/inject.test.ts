import { decode, encode as encodeMappings } from '@jridgewell/sourcemap-codec';
import { parseAst } from 'vite';
import { describe, expect, it } from 'vitest';
import { findImports, isEsm } from '../src/transform/detect.ts';
import { injectInto, injectedCode } from '../src/transform/inject.ts';
import { transformModule } from '../src/transform/index.ts';
import { hasTopLevelAwait, type Node } from '../src/transform/top-level-await.ts';
import { load } from '../src/webpack/loader.ts';
import { insertionMap, type SourceMap } from '../src/transform/source-map.ts';

/** Every mapped position of `out` shows the same character as the position it maps to in `source`; returns how many. */
function checkMap(out: string, map: SourceMap, source: string): number {
  const outLines = out.split('\n');
  const sourceLines = source.split('\n');
  let checked = 0;
  decode(map.mappings).forEach((segments, line) => {
    for (const [column, , sourceLine, sourceColumn] of segments) {
      expect(outLines[line]![column], `generated ${line}:${column} -> ${sourceLine}:${sourceColumn}`).toBe(sourceLines[sourceLine!]![sourceColumn!]);
      checked++;
    }
  });
  return checked;
}

const parse = (code: string) => parseAst(code) as unknown as Node;

describe('injected code', () => {
  it('is one forwarding line before the module and one after', () => {
    const esm = injectedCode({ id: '/app/models/user.ts', runtime: '/pkg/dist/runtime/index.js', imports: ['mongoose'], async: false, format: 'esm', version: '0badc0de' });
    expect(esm).toMatchInlineSnapshot(`
      {
        "epilogue": "
      ;__orm_hmr__.commit(() => __orm_hmr__);
      ",
        "prologue": "import * as __orm_hmr_runtime__ from "/pkg/dist/runtime/index.js";import * as __orm_hmr_import_0__ from "mongoose";const __orm_hmr__ = __orm_hmr_runtime__.enter("/app/models/user.ts", { imports: { "mongoose": __orm_hmr_import_0__ }, async: false, version: "0badc0de" });",
      }
    `);
    const cjs = injectedCode({ id: 'C:\\app\\"odd".js', runtime: 'orm-hmr/runtime', imports: [], async: true, format: 'cjs', version: '0badc0de' });
    expect(cjs.prologue).toMatchInlineSnapshot(
      `"const __orm_hmr_runtime__ = require("orm-hmr/runtime");const __orm_hmr__ = __orm_hmr_runtime__.enter("C:\\\\app\\\\\\"odd\\".js", { imports: {  }, async: true, version: "0badc0de" });"`,
    );
  });

  it('in a Vite module runner: takes the runtime from globalThis and a namespace it has by file, importing each only when missing', () => {
    const vite = injectedCode({
      id: '/app/models/user.ts', runtime: '/pkg/dist/runtime/index.js', runtimeFromGlobal: true, imports: ['mongoose', 'pg'],
      resolved: { mongoose: '/app/node_modules/mongoose/index.js' }, async: false, format: 'esm', version: '0badc0de',
    });
    expect(vite.prologue).toMatchInlineSnapshot(
      `"const __orm_hmr_runtime__ = globalThis[Symbol.for("orm-hmr.runtime")] ?? await import("/pkg/dist/runtime/index.js");import * as __orm_hmr_import_0__ from "pg";const __orm_hmr__ = __orm_hmr_runtime__.enter("/app/models/user.ts", { imports: { "pg": __orm_hmr_import_0__, "mongoose": __orm_hmr_runtime__.namespaceAt("/app/node_modules/mongoose/index.js") ?? await import("mongoose") }, at: { "mongoose": "/app/node_modules/mongoose/index.js" }, async: false, version: "0badc0de" });"`,
    );
    // CommonJS cannot await: it requires both, as before.
    const cjs = injectedCode({ id: '/m.cjs', runtime: 'orm-hmr/runtime', runtimeFromGlobal: true, imports: ['mongoose'], resolved: { mongoose: '/m/index.js' }, async: false, format: 'cjs', version: '0badc0de' });
    expect(cjs.prologue).toBe(
      'const __orm_hmr_runtime__ = require("orm-hmr/runtime");const __orm_hmr_import_0__ = require("mongoose");const __orm_hmr__ = __orm_hmr_runtime__.enter("/m.cjs", { imports: { "mongoose": __orm_hmr_import_0__ }, async: false, version: "0badc0de" });',
    );
  });

  it("passes a hash of the source, so the ledger tells an edit from the same code evaluated in another bundle", () => {
    const context = { runtime: '/r.js', packages: ['mongoose'], selected: () => undefined, parse };
    const version = (code: string) => transformModule(code, '/app/models/p.ts', context)?.code.match(/, version: "([\w-]+)" \}\);/)?.[1];
    const v1 = `import mongoose from 'mongoose';\nexport default mongoose.model('P', new mongoose.Schema({ a: String }));\n`;
    expect(version(v1)).toMatch(/^[\w-]{8,}$/);
    expect(version(v1)).toBe(version(v1));
    expect(version(v1.replace('a: String', 'b: String'))).not.toBe(version(v1));
  });

  it('keeps the line numbers of the source and maps back to it', () => {
    const code = `import mongoose from 'mongoose';\nexport const User = mongoose.model('User', new mongoose.Schema({}));\n`;
    const out = injectInto(code, { id: '/m.ts', runtime: '/r.js', imports: ['mongoose'], async: false, format: 'esm', version: '0badc0de' });
    const lines = out.code.split('\n');
    expect(lines[1]).toBe(`export const User = mongoose.model('User', new mongoose.Schema({}));`);
    expect(lines[0]!.endsWith(`import mongoose from 'mongoose';`)).toBe(true);
    expect(out.code.trimEnd().endsWith(';__orm_hmr__.commit(() => __orm_hmr__);')).toBe(true);
    expect(out.map.sources).toEqual(['/m.ts']);
    expect(out.map.mappings.split(';')[1]).not.toBe('');
  });

  it('maps every character it maps to the same character of the source, none of the injected code', () => {
    const code = `#!/usr/bin/env node\n'use strict'; const mongoose = require('mongoose');\nmodule.exports = mongoose.model('U', new mongoose.Schema({ n: String }));\n`;
    const out = injectInto(code, { id: '/m.js', runtime: '/r.js', imports: [], async: false, format: 'cjs', version: '0badc0de' });
    expect(checkMap(out.code, out.map, code)).toBeGreaterThan(40);
    const prologueAt = out.code.split('\n')[1]!.indexOf('const __orm_hmr_runtime__');
    const line1 = decode(out.map.mappings)[1]!.map((segment) => segment[0]);
    expect(line1.filter((column) => column >= prologueAt && column < prologueAt + out.insertion.length)).toEqual([]);
    expect(out.map.sourcesContent).toEqual([code]);
  });

  it("shifts a previous loader's map instead of composing with it (webpack loader)", () => {
    // The previous loader's map: from `given` back to `original` (here: an insertion on line 1).
    const original = `import mongoose from 'mongoose';\nexport const A = 1; export default mongoose.model('P', new mongoose.Schema({ a: String }));\n`;
    const given = original.replace('export const A = 1;', 'export const A = 1; /* a loader was here */');
    const offset = original.split('\n')[1]!.indexOf(' export default');
    const previous = insertionMap(original, '/p.ts', { line: 0, column: 0, length: 0 });
    const inputMap = { ...previous, mappings: shiftedBy(previous, 1, offset, ' /* a loader was here */'.length) };
    const context = { resourcePath: '/app/models/p.ts', getOptions: () => ({ runtime: '/r.js', packages: ['mongoose'], root: '/app', packageDir: '/pkg' }) };
    const out = load(context, given, inputMap) as { code: string; map: SourceMap };
    expect(out.code).toContain('__orm_hmr_runtime__.enter(');
    expect(out.map.sources).toEqual(['/p.ts']);
    expect(checkMap(out.code, out.map, original)).toBeGreaterThan(40);
  });

  it('leaves a shebang and a use-strict directive first', () => {
    const code = `#!/usr/bin/env node\n'use strict';\nconst mongoose = require('mongoose');\n`;
    const out = injectInto(code, { id: '/m.js', runtime: '/r.js', imports: [], async: false, format: 'cjs', version: '0badc0de' });
    expect(out.code.startsWith(`#!/usr/bin/env node\n'use strict';const __orm_hmr_runtime__`)).toBe(true);
  });
});

/** `map` with columns from `column` on `line` moved right by `by`, re-encoded by hand of the test: the map of an insertion. */
function shiftedBy(map: SourceMap, line: number, column: number, by: number): string {
  return encodeMappings(decode(map.mappings).map((segments, l) => segments.map((s) => (l === line && s[0] >= column ? ([s[0] + by, ...s.slice(1)] as typeof s) : s))));
}

describe('detection', () => {
  const packages = ['mongoose'];
  it.each([
    [`import mongoose from 'mongoose'`, ['mongoose']],
    [`import { Schema, model } from "mongoose";`, ['mongoose']],
    [`import * as m from 'mongoose'`, ['mongoose']],
    [`import 'mongoose'`, ['mongoose']],
    [`export { Schema } from 'mongoose'`, ['mongoose']],
    [`import x from 'mongoose/lib/helpers'`, ['mongoose/lib/helpers']],
    [`;import mongoose,{Schema}from'mongoose'`, ['mongoose']],
  ])('finds %s', (code, found) => {
    expect(findImports(code, packages)).toEqual({ found: true, staticImports: found, requires: [] });
  });
  it('finds a dynamic import', () => {
    expect(findImports(`const m = await import('mongoose')`, packages)).toEqual({ found: true, staticImports: [], requires: [] });
  });
  it('finds require() calls, as ts-loader emits them', () => {
    expect(findImports(`const mongoose_1 = require("mongoose");\nconst x = require('mongoose/lib/x')`, packages)).toEqual({
      found: true,
      staticImports: [],
      requires: ['mongoose', 'mongoose/lib/x'],
    });
  });
  it.each([`import x from 'mongoose-paginate'`, `const s = 'mongoose'`, `import x from './mongoose'`, `import x from '@scope/mongoose'`])(
    'ignores %s',
    (code) => {
      expect(findImports(code, packages).found).toBe(false);
    },
  );
  it('tells ESM from CommonJS', () => {
    expect(isEsm(`import a from 'a'`)).toBe(true);
    expect(isEsm(`export const a = 1`)).toBe(true);
    expect(isEsm(`const a = require('a'); module.exports = { important: 1 }`)).toBe(false);
    // Prisma's generated CommonJS runtime quotes an import in an error message.
    expect(isEsm('"use strict";var e=`Pass a driver adapter:\n\n  import { PrismaPg } from \'@prisma/adapter-pg\'\n`;module.exports={e};')).toBe(false);
    expect(isEsm(`import a from 'a';\nif (module.exports === a) {}\nexport const b = a`)).toBe(true);
  });
});

describe('top-level await', () => {
  it.each([
    ['await connect()', true],
    ['const x = await import("y")', true],
    ['if (a) { await b }', true],
    ['export default await f()', true],
    ['async function f() { await g() }', false],
    ['const f = async () => { await g() }', false],
    ['class A { async m() { await g() } }', false],
    ['const o = { async m() { await g() } }', false],
    ['const awaitable = 1', false],
  ])('%s -> %s', (code, expected) => {
    expect(hasTopLevelAwait(parse(code))).toBe(expected);
  });
});

describe('transformModule', () => {
  const base = { runtime: '/r.js', packages: ['mongoose'], parse, selected: () => undefined };
  const model = `import mongoose from 'mongoose';\nexport const U = mongoose.model('U', new mongoose.Schema({}));\n`;

  it('wraps server modules that import a supported ORM, and nothing else by default', () => {
    expect(transformModule(model, '/app/models/u.ts?t=123', base)?.code).toContain(`enter("/app/models/u.ts"`);
    expect(transformModule(`export const x = 1`, '/app/x.ts', base)).toBeNull();
    expect(transformModule(model, '/app/style.css', base)).toBeNull();
    expect(transformModule(model, '\0virtual:models', base)).toBeNull();
  });

  it('hands a CommonJS module’s required ORM to the runtime', () => {
    const cjs = `"use strict";\nconst mongoose_1 = require("mongoose");\nexports.Dog = mongoose_1.default.model('Dog', new mongoose_1.Schema({}));\n`;
    const out = transformModule(cjs, '/app/dog.model.js', base)!.code;
    expect(out.startsWith(`"use strict";const __orm_hmr_runtime__ = require("/r.js");const __orm_hmr_import_0__ = require("mongoose");`)).toBe(true);
    expect(out).toContain('imports: { "mongoose": __orm_hmr_import_0__ }');
  });

  it('keeps a use client directive first', () => {
    const out = transformModule(`'use client';\n${model}`, '/app/m.tsx', base)!.code;
    expect(out.startsWith(`'use client';import * as __orm_hmr_runtime__`)).toBe(true);
  });

  it('never wraps twice', () => {
    const once = transformModule(model, '/app/models/u.ts', base)!.code;
    expect(transformModule(once, '/app/models/u.ts', base)).toBeNull();
  });

  it('follows include and exclude when given', () => {
    expect(transformModule(`export const x = 1`, '/app/x.ts', { ...base, selected: () => true })?.code).toContain('enter("/app/x.ts"');
    expect(transformModule(model, '/app/models/u.ts', { ...base, selected: () => false })).toBeNull();
  });

  it('marks modules with top-level await, and only those', () => {
    expect(transformModule(model + 'await U.init();\n', '/a.ts', base)?.code).toContain('async: true');
    expect(transformModule(model + 'for await (const x of U.find()) {}\n', '/a.ts', base)?.code).toContain('async: true');
    expect(transformModule(model + 'U.statics = { async f() { await 1 } };\n', '/a.ts', base)?.code).toContain('async: false');
  });
});
