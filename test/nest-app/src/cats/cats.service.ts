import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { Cat } from './schemas/cat.schema';

@Injectable()
export class CatsService {
  constructor(@InjectModel(Cat.name) private readonly catModel: Model<Cat>) {}

  create(cat: Partial<Cat>): Promise<Cat> {
    return this.catModel.create(cat);
  }

  findAll(): Promise<Cat[]> {
    return this.catModel.find().lean().exec();
  }
}
