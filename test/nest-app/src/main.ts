import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

declare const module: any;

// NestJS's HMR recipe: the entry accepts its own updates and closes the previous app first.
async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');

  if (module.hot) {
    module.hot.accept();
    module.hot.dispose(() => app.close());
  }
}
bootstrap();
