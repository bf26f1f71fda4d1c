/**
 * The outbox table's documented shape and everything `switchboard outbox init` creates:
 * the table, its dead-letter table (`<table>_dead`), and a statement-level trigger that
 * notifies the consumer (`NOTIFY "<table>"`) when rows are inserted. The notification is
 * delivered at commit (and not at all on rollback); several inserts of one transaction
 * wake the consumer once.
 */

/** A table name as configured (`outbox.table`): lower-case, optionally `schema.table`. */
export const TABLE_NAME = /^([a-z_][a-z0-9_]{0,55}\.)?[a-z_][a-z0-9_]{0,55}$/;

/** The identifiers derived from `outbox.table`. */
export interface OutboxNames {
  /** The table, as written in SQL (`public.orders_outbox` or `switchboard_outbox`). */
  table: string;
  /** The dead-letter table. */
  dead: string;
  /** The trigger function. */
  fn: string;
  /** The trigger (its name, unqualified). */
  trigger: string;
  /** The notification channel the trigger notifies (the configured name). */
  channel: string;
}

export function outboxNames(table: string): OutboxNames {
  if (!TABLE_NAME.test(table)) throw new Error(`outbox.table ${JSON.stringify(table)} must be a lower-case table name, optionally schema-qualified ("schema.table")`);
  const [schema, name] = table.includes('.') ? table.split('.') as [string, string] : [undefined, table];
  const q = (n: string) => (schema ? `${schema}.${n}` : n);
  return { table: q(name), dead: q(`${name}_dead`), fn: q(`${name}_notify`), trigger: `${name}_notify`, channel: table };
}

/** The DDL `switchboard outbox init` runs (idempotent: safe to run again). */
export function outboxDdl(table: string): string {
  const n = outboxNames(table);
  return `-- Switchboard transactional outbox (docs/postgres.md). Publish by inserting a row
-- inside your own transaction: INSERT INTO ${n.table} (channel, data) VALUES ('orders:42', '{"status":"paid"}');
CREATE TABLE IF NOT EXISTS ${n.table} (
  id              bigserial PRIMARY KEY,
  channel         text NOT NULL,
  data            jsonb NOT NULL,
  idempotency_key text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Rows the gateway could not publish (an invalid or unknown channel, data it refuses), with why.
CREATE TABLE IF NOT EXISTS ${n.dead} (
  id              bigint PRIMARY KEY,
  channel         text NOT NULL,
  data            jsonb NOT NULL,
  idempotency_key text,
  created_at      timestamptz NOT NULL,
  failed_at       timestamptz NOT NULL DEFAULT now(),
  reason          text NOT NULL
);

-- Wakes the gateway at commit (once per inserting statement); it also polls, as a safety net.
CREATE OR REPLACE FUNCTION ${n.fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${n.channel}', '');
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS ${n.trigger} ON ${n.table};
CREATE TRIGGER ${n.trigger} AFTER INSERT ON ${n.table}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.fn}();
`;
}
