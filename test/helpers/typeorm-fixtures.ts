/** TypeORM entity and DataSource files as a user writes them: plain decorators, no guards. */

/** Legacy decorators, as TypeORM documents (Vite reads them from the nearest tsconfig.json). */
export const decoratorsTsconfig = JSON.stringify({ compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false, target: 'ES2022' } });

/** An entity `name` with a text column per entry of `columns`, and a static version to see which generation loaded. */
export function entity(name: string, version: number | string, columns: string[] = [], after = ''): string {
  return `import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity(${JSON.stringify(name.toLowerCase())})
export class ${name} {
  static version = ${JSON.stringify(String(version))};
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') name!: string;
${columns.map((column) => `  @Column('text', { nullable: true }) ${column}!: string | null;`).join('\n')}
}
${after}`;
}

/** A DataSource kept on globalThis across evaluations (the usual dev singleton): created and initialized once. */
export function singletonDataSource(key: string, database: string, entityName: string): string {
  return `import { DataSource } from 'typeorm';
import { ${entityName} } from './entities/${entityName.toLowerCase()}.ts';

const slot = globalThis as { ${key}?: DataSource };
export const dataSource = (slot.${key} ??= new DataSource({ type: 'better-sqlite3', database: ${JSON.stringify(database)}, entities: [${entityName}], synchronize: true }));
if (!dataSource.isInitialized) await dataSource.initialize();
`;
}

/** A DataSource made and initialized at module scope: a new one on each evaluation. */
export function moduleDataSource(database: string, entityName: string, version: number): string {
  return `import { DataSource } from 'typeorm';
import { ${entityName} } from './entities/${entityName.toLowerCase()}.ts';

export const version = ${version};
export const dataSource = new DataSource({ type: 'better-sqlite3', database: ${JSON.stringify(database)}, entities: [${entityName}], synchronize: true });
await dataSource.initialize();
`;
}

/** The request handler: saves what it is given and reads the row back. */
export function app(entityName: string, db = 'db.ts'): string {
  return `import { dataSource } from './${db}';
import { ${entityName} } from './entities/${entityName.toLowerCase()}.ts';

export { ${entityName} as Entity, dataSource };
export async function handle(fields: Record<string, string>) {
  const repository = dataSource.getRepository(${entityName});
  const saved = await repository.save(repository.create(fields));
  return repository.findOneByOrFail({ id: saved.id });
}
`;
}

/** A MongoDB entity: an ObjectId key and a field per entry of `columns`. */
export function mongoEntity(name: string, version: number | string, columns: string[] = []): string {
  return `import { Column, Entity, ObjectIdColumn } from 'typeorm';
import type { ObjectId } from 'mongodb';

@Entity(${JSON.stringify(name.toLowerCase())})
export class ${name} {
  static version = ${JSON.stringify(String(version))};
  @ObjectIdColumn() _id!: ObjectId;
  @Column('string') name!: string;
${columns.map((column) => `  @Column('string') ${column}!: string;`).join('\n')}
}
`;
}

/** The singleton DataSource, on TypeORM's MongoDB driver. */
export function mongoDataSource(key: string, url: string, entityName: string): string {
  return `import { DataSource } from 'typeorm';
import { ${entityName} } from './entities/${entityName.toLowerCase()}.ts';

const slot = globalThis as { ${key}?: DataSource };
export const dataSource = (slot.${key} ??= new DataSource({ type: 'mongodb', url: ${JSON.stringify(url)}, entities: [${entityName}] }));
if (!dataSource.isInitialized) await dataSource.initialize();
`;
}

/** The request handler on the MongoDB DataSource. */
export function mongoApp(entityName: string): string {
  return `import { dataSource } from './db.ts';
import { ${entityName} } from './entities/${entityName.toLowerCase()}.ts';

export { ${entityName} as Entity, dataSource };
export async function handle(fields: Record<string, string>) {
  const repository = dataSource.getMongoRepository(${entityName});
  const saved = await repository.save(repository.create(fields));
  return repository.findOneByOrFail({ _id: saved._id });
}
`;
}
