import { defineHandler } from 'nitro/h3';
import mongoose from 'mongoose';
import { User } from '../../models/user.ts';
import { Event } from '../../models/event.ts';
import { Click } from '../../models/click.ts';

// The schemas this request sees, and whether the Click discriminator is the one its base knows.
export default defineHandler(() => ({
  user: Object.keys(User.schema.paths),
  event: Object.keys(Event.schema.paths),
  click: Object.keys(Click.schema.paths),
  registered: Event.discriminators?.Click === Click && mongoose.model('Click') === Click,
}));
