import type { Logger } from '../logger.ts';
import { inTransaction, type PgPool } from './connect.ts';

/** One component's schema: its steps in order; step n (1-based) is version n. Steps are only ever appended. */
export interface Component {
  name: string;
  steps: readonly string[];
}

/**
 * Brings every component's tables up to date, at start-up. Versioned: `sb_schema` records
 * each component's version, and only the steps past it run, each component's in one
 * transaction with its version bump (all or nothing). Two nodes starting at once take turns
 * (a transaction-level advisory lock), so no step runs twice. Steps only add (tables,
 * columns, indexes, functions): no step drops or rewrites data. A database migrated by a
 * newer gateway (a version past what this one knows) is refused with a message, so an old
 * gateway never runs on a schema it does not understand.
 *
 * With `schema`, the tables live in that schema (created when missing); the pool's
 * connections must have it as their `search_path` (`clientConfig` sets it).
 */
export async function migrate(pool: PgPool, components: readonly Component[], o: { schema?: string; log?: Logger } = {}): Promise<void> {
  await inTransaction(pool, async (c) => {
    // One lock per schema (hashtext of its name), held until commit.
    await c.query(`SELECT pg_advisory_xact_lock(1937007714, hashtext(coalesce($1::text, current_schema())))`, [o.schema ?? null]);
    if (o.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${o.schema}`);
    await c.query(`CREATE TABLE IF NOT EXISTS sb_schema (
      component  text PRIMARY KEY,
      version    integer NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await c.query<{ component: string; version: number }>('SELECT component, version FROM sb_schema');
    const applied = new Map(rows.map((r) => [r.component, r.version]));
    for (const comp of components) {
      const from = applied.get(comp.name) ?? 0;
      if (from > comp.steps.length) {
        throw new Error(`postgres: the database's "${comp.name}" tables are version ${from}, newer than this gateway knows (${comp.steps.length}): upgrade switchboard`);
      }
      if (from === comp.steps.length) continue;
      for (let v = from; v < comp.steps.length; v++) await c.query(comp.steps[v]!);
      await c.query(
        `INSERT INTO sb_schema (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = now()`,
        [comp.name, comp.steps.length],
      );
      o.log?.info({ component: comp.name, from, to: comp.steps.length }, 'postgres: schema migrated');
    }
  });
}
