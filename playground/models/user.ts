import mongoose, { Schema } from 'mongoose';

// Edit me while `npm run dev` runs: add a field, save, then GET /api/users. No restart, no
// OverwriteModelError, and the terminal prints one memory line per save.
const userSchema = new Schema(
  {
    name: { type: String, required: true },
    email: String,
  },
  { timestamps: true },
);

userSchema.virtual('greeting').get(function () {
  return `Hello, ${this.name}`;
});

export const User = mongoose.model('User', userSchema);
