import mongoose from 'mongoose';

// The default connection, opened once at module scope (orm-hmr reuses it when this file reloads).
if (mongoose.connection.readyState === 0) mongoose.connect(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/nitro-app');

export default mongoose;
