import { defineHandler, readBody } from 'nitro/h3';
import { Click } from '../../models/click.ts';

export default defineHandler(async (event) => (await Click.create(await readBody(event))).toObject());
