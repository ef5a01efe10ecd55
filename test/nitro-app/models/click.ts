import { Schema } from 'mongoose';
import { Event } from './event.ts';

export const Click = Event.discriminator('Click', new Schema({ x: Number, y: Number }));
