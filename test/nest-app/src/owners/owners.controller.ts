import { Body, Controller, Get, Post } from '@nestjs/common';
import { Owner } from './owner.model';

@Controller('owners')
export class OwnersController {
  @Post()
  async create(@Body() owner: Record<string, unknown>) {
    return (await Owner.create(owner)).toObject();
  }

  @Get()
  findAll() {
    return Owner.find().lean().exec();
  }
}
