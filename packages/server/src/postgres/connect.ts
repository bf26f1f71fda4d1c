import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger.ts';

export type PgPool = pg.Pool;
export type PgPoolClient = pg.PoolClient;

/** How to reach the database: the URL, and optionally the schema the tables live in. */
export interface PgTarget {
  /** `postgres://user:password@host:5432/db?sslmode=…` (the password is never logged). */
  url: string;
  /**
   * The schema for Switchboard's tables (created when missing). Default: the connection's own
   * (`public`, or `search_path` from the URL's `options`). Tests give each store its own.
   */
  schema?: string;
}

export interface PgPoolOptions extends PgTarget {
  /** `application_name` shown by `pg_stat_activity`, e.g. "switchboard:history". */
  name: string;
  /** Most connections at once. Default 4. */
  max?: number;
  log?: Logger;
}

/** A valid unquoted schema name (also the test harness's random ones). */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** The client settings shared by pools and single clients. */
export function clientConfig(o: PgTarget & { name: string }): pg.ClientConfig {
  if (o.schema !== undefined && !SCHEMA.test(o.schema)) throw new Error(`postgres: schema ${JSON.stringify(o.schema)} must be lower-case letters, digits and _`);
  return {
    connectionString: o.url,
    application_name: o.name,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    // A hung server answers with an error instead of never.
    query_timeout: 15_000,
    ...(o.schema !== undefined ? { options: `-c search_path=${o.schema}` } : {}),
  };
}

/**
 * A pool of connections. Errors of idle connections (the server restarted, the network cut)
 * are logged, never thrown: the pool replaces the connection on the next query.
 */
export function createPool(o: PgPoolOptions): PgPool {
  const pool = new pg.Pool({ ...clientConfig(o), max: o.max ?? 4, idleTimeoutMillis: 30_000 });
  pool.on('error', (err) => o.log?.warn({ err: err.message, pool: o.name }, 'postgres: an idle connection failed; it is replaced on the next query'));
  return pool;
}

/** Ends a pool; idempotent, and never throws (a pool already ended, a dead server). */
export async function endPool(pool: PgPool): Promise<void> {
  if (pool.ended) return;
  await pool.end().catch(() => {});
}

/** `host:port/database` of a URL, for logs: no user, no password. */
export function pgTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable url)';
  }
}

/**
 * Runs `fn` in a transaction on one connection of `pool`: committed when it resolves, rolled
 * back when it throws. A connection whose rollback failed is destroyed, not reused.
 */
export async function inTransaction<T>(pool: PgPool, fn: (c: PgPoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  // A checked-out connection has no error listener of the pool's: its death must reject, not throw.
  const onError = (err: Error) => (broken = err);
  c.on('error', onError);
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.removeListener('error', onError);
    c.release(broken);
  }
}

/**
 * Names of LISTEN/NOTIFY channels. Notification channels are per database, not per schema:
 * deployments (or tests) in different schemas of one database get different names.
 */
export class PgNames {
  readonly prefix: string;
  constructor(schema: string | undefined) {
    this.prefix = schema === undefined || schema === 'public' ? 'sb_' : `sb_${createHash('sha1').update(schema).digest('hex').slice(0, 10)}_`;
  }

  /** The notification channel of one of the broker's publication shards. */
  shard(n: number): string {
    return `${this.prefix}p${n}`;
  }

  /** The notification channel every node listens to for control messages. */
  control(): string {
    return `${this.prefix}control`;
  }

  /** The notification channel of control messages addressed to node `id` (only it listens). */
  node(id: string): string {
    return `${this.prefix}node_${createHash('sha1').update(id).digest('hex').slice(0, 16)}`;
  }
}

/** Publication shards: each Switchboard channel maps to one notification channel of these. */
const SHARDS = 64;

/** The shard of a channel (FNV-1a of its UTF-16 code units; stable across nodes and versions). */
export function shardOf(channel: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) {
    h ^= channel.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARDS;
}
