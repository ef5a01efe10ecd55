/** `orm-hmr`: the adapter API and types. The plugins live in `orm-hmr/vite`; the runtime in `orm-hmr/runtime`. */
export { defineAdapter } from './adapters/types.ts';
export type { Adapter, AdapterContext, Entry } from './adapters/types.ts';
export { mongodbAdapter } from './adapters/mongodb.ts';
export { mongooseAdapter } from './adapters/mongoose.ts';
export { typegooseAdapter } from './adapters/typegoose.ts';
export { builtinAdapterNames, type BuiltinAdapterName } from './adapters/builtin.ts';
export { typeormAdapter } from './adapters/typeorm.ts';
export { onUnload, useAdapter } from './runtime/index.ts';
export type { LeakWarning, ReloadRecord, SideEffectCount, SideEffectKind } from './ledger/report.ts';
export type { OrmHmrOptions } from './options.ts';
