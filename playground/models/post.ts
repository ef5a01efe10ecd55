import mongoose, { Schema } from 'mongoose';

// `ref: 'User'` is resolved by name when populating: it always finds the live User model.
const postSchema = new Schema(
  {
    title: { type: String, required: true },
    body: String,
    author: { type: Schema.Types.ObjectId, ref: 'User' },
  },
  { timestamps: true },
);

export const Post = mongoose.model('Post', postSchema);
