import type { Command } from 'commander';
import { UsageError } from './cli-errors.ts';
import { outboxDdl } from './outbox/outbox-ddl.ts';

/** Flags of `switchboard outbox init`. */
interface OutboxInitFlags {
  url?: string;
  table?: string;
  config?: string;
  /** Print the DDL only; connect to nothing. */
  print?: boolean;
}

/**
 * `switchboard outbox init`: creates the outbox table, its dead-letter table and the
 * notifying trigger (idempotent), and prints the DDL it ran, so it can go into the
 * application's own migrations instead. The URL and table come from the flags, else
 * `SWITCHBOARD_OUTBOX_URL` and the config file's `outbox`.
 */
async function outboxInit(flags: OutboxInitFlags, loadOutbox: (configPath?: string) => { postgres: string | null; table: string }): Promise<void> {
  const fromConfig = loadOutbox(flags.config);
  const table = flags.table ?? fromConfig.table;
  let ddl: string;
  try {
    ddl = outboxDdl(table);
  } catch (err) {
    throw new UsageError(`outbox init: ${(err as Error).message}`);
  }
  if (flags.print) {
    process.stdout.write(ddl);
    return;
  }
  const url = flags.url ?? fromConfig.postgres;
  if (!url) throw new UsageError('outbox init: no database: pass --url postgres://user:pass@host/db, set SWITCHBOARD_OUTBOX_URL or outbox.postgres in --config (or --print for the DDL alone)');
  const { createPool, endPool, pgTarget } = await import('./postgres/connect.ts');
  const pool = createPool({ url, name: 'switchboard:outbox-init', max: 1 });
  try {
    await pool.query(ddl);
  } catch (err) {
    throw new UsageError(`outbox init: could not create ${table} at ${pgTarget(url)}: ${(err as Error).message}`);
  } finally {
    await endPool(pool);
  }
  process.stdout.write(ddl);
  process.stderr.write(`switchboard: outbox table ${table} ready at ${pgTarget(url)}\n`);
}

/** Adds `switchboard outbox init`. */
export function addOutboxCommands(p: Command, loadOutbox: (configPath?: string) => { postgres: string | null; table: string }): void {
  const outbox = p.command('outbox').description('the PostgreSQL transactional outbox (docs/postgres.md)');
  outbox.command('init')
    .description('create the outbox table, its dead-letter table and trigger, and print the DDL')
    .option('--url <url>', 'PostgreSQL URL (default: SWITCHBOARD_OUTBOX_URL, or outbox.postgres in --config)')
    .option('--table <name>', 'table name, optionally schema.table (default: outbox.table, "switchboard_outbox")')
    .option('-c, --config <path>', 'JSON configuration file')
    .option('--print', 'print the DDL only, connect to nothing')
    .action((flags: OutboxInitFlags) => outboxInit(flags, loadOutbox));
}
