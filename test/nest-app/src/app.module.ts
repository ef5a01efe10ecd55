import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CatsModule } from './cats/cats.module';
import { OwnersModule } from './owners/owners.module';
import { HealthController } from './health.controller';

@Module({
  imports: [
    MongooseModule.forRoot(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/nest-app'),
    CatsModule,
    OwnersModule,
  ],
  controllers: [HealthController],
})
export class AppModule {}
