import mongoose, { Schema } from 'mongoose';
import './db.ts';

export const User = mongoose.model('User', new Schema({ name: { type: String, required: true }, email: String }));
