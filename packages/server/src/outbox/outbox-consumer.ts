import pg from 'pg';
import { clientConfig, createPool, endPool, pgTarget, type PgPool, type PgPoolClient } from '../postgres/connect.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import { outboxNames, type OutboxNames } from './outbox-ddl.ts';

/** One committed outbox row, as the consumer hands it to `publish`. */
export interface OutboxRow {
  id: number;
  channel: string;
  /** The row's `data` as JSON text (jsonb's rendering). */
  data: string;
  idempotencyKey: string | null;
}

/** What publishing a row came to: published (or a duplicate of one), or refused for good (dead letter). */
export type OutboxOutcome = { kind: 'published'; duplicate: boolean } | { kind: 'dead'; reason: string };

export interface OutboxConsumerOptions {
  url: string;
  table: string;
  /**
   * Publishes one channel's rows of a batch, in order (they are in id order); answers each
   * row's outcome. Rejects when it cannot now (the batch is rolled back and tried again).
   */
  publish(rows: OutboxRow[]): Promise<OutboxOutcome[]>;
  pollIntervalMs?: number;
  batchSize?: number;
  log?: Logger;
}

/** The two-key advisory lock space of a table's channels: `(hashtext(table), hashtext(channel))`. */
const CLAIM = (n: OutboxNames) => `
  SELECT id, channel, data::text AS data, idempotency_key FROM ${n.table}
  WHERE pg_try_advisory_xact_lock(hashtext('${n.table}'), hashtext(channel))
  ORDER BY id LIMIT $1
  FOR UPDATE SKIP LOCKED`;

/**
 * Publishes what applications commit to the outbox table, exactly once, in order per channel.
 *
 * - **Wake-up**: a LISTEN on the table's channel (the trigger `outbox init` creates notifies
 *   at commit), and a poll every `pollIntervalMs` as the safety net (a missed notification,
 *   a table made without the trigger).
 * - **Claiming**: one transaction per batch takes up to `batchSize` rows in id order with
 *   `FOR UPDATE SKIP LOCKED`, and a transaction-level advisory lock per channel: a channel's
 *   rows are claimed by one consumer at a time, so several gateways share a table without
 *   publishing a row twice or a channel out of order.
 * - **Publishing**: a channel's rows in id order (channels in parallel), each with
 *   an idempotency key (its `idempotency_key`, else its id, in the outbox's own key space),
 *   then the rows are deleted and the transaction commits. A gateway that dies mid-batch
 *   leaves the rows to the next consumer, whose publication of an already-published row is a
 *   duplicate: stored and delivered once.
 * - **Dead letters**: a row `publish` refuses for good moves to `<table>_dead` with the
 *   reason, in the same transaction; the rows behind it go on.
 */
export class OutboxConsumer {
  private readonly names: OutboxNames;
  private readonly url: string;
  private readonly pool: PgPool;
  private readonly publishRows: OutboxConsumerOptions['publish'];
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly log: Logger | undefined;
  private listener: pg.Client | undefined;
  private poller: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private lagCheckedAt = 0;
  /** Rows this node published and removed from the table (a row published again after a failed batch counts once more). */
  published = 0;
  /** Rows this node moved to the dead-letter table. */
  deadLetters = 0;
  /** Rows waiting in the table at the last look (counted up to 100,000), and the oldest one's age (s). */
  lagRows = 0;
  lagSeconds = 0;

  constructor(o: OutboxConsumerOptions) {
    this.names = outboxNames(o.table);
    this.url = o.url;
    this.pool = createPool({ url: o.url, name: 'switchboard:outbox', max: 2, ...(o.log ? { log: o.log } : {}) });
    this.publishRows = o.publish;
    this.pollIntervalMs = o.pollIntervalMs ?? 5000;
    this.batchSize = o.batchSize ?? 200;
    this.log = o.log;
  }

  /** Starts listening and polling; resolves once the first LISTEN is in place (or failed: it retries). */
  async start(): Promise<void> {
    this.poller = setInterval(() => this.wake(), this.pollIntervalMs);
    this.poller.unref();
    await this.listen().catch((err) => this.report(err, 'listen'));
    this.wake();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const c = new pg.Client({ ...clientConfig({ url: this.url, name: 'switchboard:outbox-listen' }), query_timeout: 0 });
    this.listener = c;
    const lost = () => {
      if (this.listener !== c || this.stopped) return;
      this.listener = undefined;
      c.end().catch(() => {});
      // The poll covers the gap; listen again shortly.
      setTimeout(() => void this.listen().then(() => this.wake(), (err) => this.report(err, 'listen')), 1000).unref();
    };
    c.on('notification', () => this.wake());
    c.on('error', lost);
    c.on('end', lost);
    try {
      await c.connect();
      await c.query(`LISTEN "${this.names.channel}"`);
    } catch (err) {
      lost();
      throw err;
    }
  }

  /** Runs batches until the table has nothing claimable (a wake during a run runs again after it). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      let claimed: number;
      try {
        claimed = await this.batch();
        this.failures = 0;
      } catch (err) {
        this.failures++;
        this.report(err, 'publish');
        // Backs off (the poll wakes it again): an unreachable store or database is not hammered.
        return;
      }
      await this.measureLag().catch(() => {});
      if (claimed < this.batchSize || this.stopped) return;
    }
  }

  /** One transaction: claim, publish per channel in order, delete (or move aside), commit. Answers how many rows it claimed. */
  private async batch(): Promise<number> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out connection has no error listener of the pool's: the connection dying
    // mid-batch (the database restarted) must reject the query, not end the process.
    const onError = (err: Error) => (broken = err);
    c.on('error', onError);
    try {
      await c.query('BEGIN');
      const { rows } = await c.query<{ id: string; channel: string; data: string; idempotency_key: string | null }>(CLAIM(this.names), [this.batchSize]);
      if (rows.length === 0) {
        await c.query('COMMIT');
        return 0;
      }
      const byChannel = new Map<string, OutboxRow[]>();
      for (const r of rows) {
        const row = { id: Number(r.id), channel: r.channel, data: r.data, idempotencyKey: r.idempotency_key };
        const list = byChannel.get(row.channel);
        if (list) list.push(row);
        else byChannel.set(row.channel, [row]);
      }
      const dead: Array<{ id: number; reason: string }> = [];
      let published = 0;
      // Channels in parallel; the batch waits for every one of them before it commits (or,
      // when one failed, rolls back).
      const channels = [...byChannel.values()];
      const results = await Promise.allSettled(channels.map((list) => this.publishRows(list)));
      const rejected = results.find((r) => r.status === 'rejected');
      if (rejected) throw (rejected as PromiseRejectedResult).reason;
      results.forEach((r, i) => {
        const outcomes = (r as PromiseFulfilledResult<OutboxOutcome[]>).value;
        outcomes.forEach((out, k) => {
          if (out.kind === 'dead') dead.push({ id: channels[i]![k]!.id, reason: out.reason });
          else published++;
        });
      });
      await this.settle(c, rows.map((r) => r.id), dead);
      await c.query('COMMIT');
      this.published += published;
      this.deadLetters += dead.length;
      if (this.log) for (const d of dead) limited(this.log).warn({ table: this.names.table, id: d.id, reason: d.reason }, 'outbox: row moved to the dead-letter table');
      return rows.length;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      c.removeListener('error', onError);
      c.release(broken);
    }
  }

  /** Deletes the batch's rows, copying the dead ones to the dead-letter table first. */
  private async settle(c: PgPoolClient, ids: string[], dead: Array<{ id: number; reason: string }>): Promise<void> {
    if (dead.length > 0) {
      await c.query(
        `INSERT INTO ${this.names.dead} (id, channel, data, idempotency_key, created_at, reason)
         SELECT o.id, o.channel, o.data, o.idempotency_key, o.created_at, d.reason
         FROM ${this.names.table} o JOIN unnest($1::bigint[], $2::text[]) AS d(id, reason) ON d.id = o.id
         ON CONFLICT (id) DO NOTHING`,
        [dead.map((d) => d.id), dead.map((d) => d.reason)],
      );
    }
    await c.query(`DELETE FROM ${this.names.table} WHERE id = ANY ($1::bigint[])`, [ids]);
  }

  /** Reads the lag (rows waiting, the oldest one's age) at most once a second. */
  private async measureLag(force = false): Promise<void> {
    if (!force && Date.now() - this.lagCheckedAt < 1000) return;
    this.lagCheckedAt = Date.now();
    const { rows } = await this.pool.query<{ n: string; age: number | null }>(
      `SELECT count(*) AS n, extract(epoch FROM now() - min(created_at))::float8 AS age
       FROM (SELECT created_at FROM ${this.names.table} ORDER BY id LIMIT 100000) w`,
    );
    this.lagRows = Number(rows[0]!.n);
    this.lagSeconds = Math.max(0, rows[0]!.age ?? 0);
  }

  /** Fresh lag numbers (metrics scrapes, the admin UI). */
  async lag(): Promise<{ rows: number; seconds: number }> {
    await this.measureLag().catch(() => {});
    return { rows: this.lagRows, seconds: this.lagSeconds };
  }

  private report(err: unknown, what: string): void {
    if (this.stopped || !this.log) return;
    const msg = (err as Error).message;
    const hint = /relation .* does not exist/.test(msg) ? ` (create it with: switchboard outbox init --url … --table ${this.names.channel})` : '';
    limited(this.log).warn({ err: msg, table: this.names.table, postgres: pgTarget(this.url), failures: this.failures }, `outbox: ${what} failed; retrying${hint}`);
  }

  /** Stops waking; waits for the batch in progress (it commits or rolls back), then closes. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.poller);
    await this.running;
    const c = this.listener;
    this.listener = undefined;
    await c?.end().catch(() => {});
    await endPool(this.pool);
  }
}
