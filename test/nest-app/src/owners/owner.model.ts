import mongoose from 'mongoose';

// The default connection, for the module-scope model below (@nestjs/mongoose opens its own).
if (mongoose.connection.readyState === 0) mongoose.connect(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/nest-app');

// A plain module-scope model, next to the @nestjs/mongoose ones: the shape that throws
// OverwriteModelError on its second evaluation without orm-hmr.
const ownerSchema = new mongoose.Schema({
  name: { type: String, required: true },
});

export const Owner = mongoose.model('Owner', ownerSchema);
