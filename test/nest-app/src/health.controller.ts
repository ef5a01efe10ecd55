import { Controller, Get } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { Cat } from './cats/schemas/cat.schema';
import { Owner } from './owners/owner.model';

/** What a test (or a person with curl) checks after each save: the schemas the running app uses. */
@Controller()
export class HealthController {
  constructor(@InjectModel(Cat.name) private readonly catModel: Model<Cat>) {}

  @Get('health')
  health() {
    return { ok: true, pid: process.pid };
  }

  @Get('fields')
  fields() {
    return {
      cat: Object.keys(this.catModel.schema.paths),
      owner: Object.keys(Owner.schema.paths),
      pid: process.pid,
    };
  }
}
