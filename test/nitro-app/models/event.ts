import mongoose, { Schema } from 'mongoose';
import './db.ts';

export const Event = mongoose.model('Event', new Schema({ at: { type: Date, default: Date.now } }, { discriminatorKey: 'kind' }));
