import mongoose from 'mongoose';

/** Connects once per process; reloads of the models reuse the connection. */
export function connect(): Promise<unknown> {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set (the playground plugin sets it once the database is up)');
  if (mongoose.connection.readyState === 0) return mongoose.connect(uri);
  return mongoose.connection.asPromise();
}
