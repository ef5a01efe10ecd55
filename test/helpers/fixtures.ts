/** Model files as a user writes them: plain `mongoose.model()`, no guards, no overwriteModels. */

/** A User model whose schema has a field named after the version, a toJSON closure and some weight. */
export function userModel(prefix: string, version: number | string): string {
  return `import mongoose, { Schema } from 'mongoose';

const schema = new Schema(
  { name: String, f${version}: String },
  // A closure in the schema options: Mongoose copies these options into its cached collection.
  { toJSON: { transform(_doc, ret) { ret.version = ${JSON.stringify(String(version))}; return ret; } } },
);
schema.statics.version = function () {
  return ${JSON.stringify(String(version))};
};
// Module-scope weight, so a leaked generation would show in the heap.
export const lookup = Array.from({ length: 2000 }, (_, i) => ({ i, name: 'user-' + i }));
export const User = mongoose.model(${JSON.stringify(`${prefix}User`)}, schema);
`;
}

/** A Post that refers to the User by name (resolved at populate time). */
export function postModel(prefix: string): string {
  return `import mongoose, { Schema } from 'mongoose';

export const Post = mongoose.model(
  ${JSON.stringify(`${prefix}Post`)},
  new Schema({ title: String, author: { type: Schema.Types.ObjectId, ref: ${JSON.stringify(`${prefix}User`)} } }),
);
`;
}

export function eventModel(prefix: string, version: number | string): string {
  return `import mongoose, { Schema } from 'mongoose';

export const Event = mongoose.model(${JSON.stringify(`${prefix}Event`)}, new Schema({ at: Date, e${version}: String }, { discriminatorKey: 'kind' }));
`;
}

export function clickModel(prefix: string, version: number | string): string {
  return `import { Schema } from 'mongoose';
import { Event } from './event.ts';

export const Click = Event.discriminator(${JSON.stringify(`${prefix}Click`)}, new Schema({ x: Number, c${version}: String }));
`;
}
