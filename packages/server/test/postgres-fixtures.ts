import { randomBytes } from 'node:crypto';
import { createPool, type PgPool } from '../src/postgres/connect.ts';
import { migrate } from '../src/postgres/migrations.ts';
import { COMPONENTS } from '../src/postgres/schema.ts';

/** A new, empty schema on `url` with every Switchboard table migrated into it. */
export async function freshSchema(url: string): Promise<string> {
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const pool = createPool({ url, schema, name: 'test:migrate', max: 1 });
  try {
    await migrate(pool, COMPONENTS, { schema });
  } finally {
    await pool.end();
  }
  return schema;
}

/** A pool on `schema` (its tables must exist: `freshSchema`). */
export function schemaPool(url: string, schema: string, name = 'test'): PgPool {
  return createPool({ url, schema, name, max: 4 });
}
