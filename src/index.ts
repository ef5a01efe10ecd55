/** `orm-hmr`: the adapter API and types. The plugins live in `orm-hmr/vite`; the runtime in `orm-hmr/runtime`. */
export { defineAdapter } from './adapters/types.ts';
export type { Adapter, AdapterContext, Entry } from './adapters/types.ts';
export { mongodbAdapter } from './adapters/mongodb.ts';
export { mongooseAdapter } from './adapters/mongoose.ts';
export { onUnload, useAdapter } from './runtime/index.ts';
export type { ReloadRecord } from './ledger/report.ts';
export type { OrmHmrOptions } from './options.ts';
