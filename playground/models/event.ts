import mongoose, { Schema } from 'mongoose';

// A base model; click.ts adds a discriminator to it.
const eventSchema = new Schema({ at: { type: Date, default: () => new Date() } }, { discriminatorKey: 'kind' });

export const Event = mongoose.model('Event', eventSchema);
