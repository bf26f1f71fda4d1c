import { ReplyError } from '@switchboard/protocol';
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Node } from '../node.ts';
import type { ResolvedChannel } from '../channels.ts';
import { OutboxConsumer, type OutboxOutcome, type OutboxRow } from './outbox-consumer.ts';

/** The outbox's lag as the admin UI shows it. */
export interface OutboxLag {
  table: string;
  /** Rows committed and not yet published (counted up to 100,000). */
  rows: number;
  /** Age of the oldest of them (s); 0 when none. */
  seconds: number;
}

/**
 * How a channel's rows become publications on `node`: the channel resolved as a client's
 * would be, each row's data (JSON) published with an idempotency key of the outbox's own
 * (`outbox:<table>` publisher): the row's `idempotency_key`, else its id. On a channel with
 * history the rows are handed to the node all at once, in order (the history store keeps a
 * channel's appends in call order and batches them); without history one after the other (a
 * claim of the key comes first, and claims may complete in any order). A row refused for
 * good (an invalid channel or unknown namespace, data too large or too deep) is a dead
 * letter with the reason; a temporary failure (a store unreachable) rejects, and the batch
 * is retried.
 */
export function outboxPublisher(node: Node, table: string): (rows: OutboxRow[]) => Promise<OutboxOutcome[]> {
  const publisher = `outbox:${table}`;
  const maxBytes = node.config.limits.maxHttpBodyBytes;
  const dead = (reason: string): OutboxOutcome => ({ kind: 'dead', reason: reason.slice(0, 500) });
  const refused = (err: unknown): OutboxOutcome => {
    if (err instanceof ReplyError && !err.temporary) return dead(`${err.code}: ${err.message}`);
    throw err;
  };
  return async (rows) => {
    let ch: ResolvedChannel;
    try {
      ch = node.resolve(rows[0]!.channel);
    } catch (err) {
      const out = refused(err);
      return rows.map(() => out);
    }
    const one = (row: OutboxRow): Promise<OutboxOutcome> => {
      if (Buffer.byteLength(row.data) > maxBytes) return Promise.resolve(dead(`data is larger than limits.maxHttpBodyBytes (${maxBytes} bytes)`));
      return node.publish(ch, JSON.parse(row.data), { id: row.idempotencyKey ?? row.id, publisher })
        .then((r): OutboxOutcome => ({ kind: 'published', duplicate: r.duplicate }), refused);
    };
    if (ch.history) return Promise.all(rows.map(one));
    const out: OutboxOutcome[] = [];
    for (const row of rows) out.push(await one(row));
    return out;
  };
}

/** `switchboard_outbox_*` metrics, read from the consumer at scrape time. */
function registerMetrics(metrics: Metrics, c: OutboxConsumer, table: string): void {
  const r = metrics.registry;
  const labels = { table };
  const counter = (name: string, help: string, read: () => number) => {
    let reported = 0;
    new Counter({
      name, help, labelNames: ['table'], registers: [r],
      collect() {
        const now = read();
        if (now > reported) this.inc(labels, now - reported);
        reported = now;
      },
    });
  };
  counter('switchboard_outbox_published_total', 'Outbox rows this node published and removed from the table', () => c.published);
  counter('switchboard_outbox_dead_letters_total', 'Outbox rows this node moved to the dead-letter table', () => c.deadLetters);
  new Gauge({
    name: 'switchboard_outbox_lag_rows', help: 'Outbox rows committed and not yet published (counted up to 100000)', labelNames: ['table'], registers: [r],
    async collect() { this.set(labels, (await c.lag()).rows); },
  });
  new Gauge({
    name: 'switchboard_outbox_lag_seconds', help: 'Age of the oldest outbox row not yet published (s)', labelNames: ['table'], registers: [r],
    async collect() { this.set(labels, (await c.lag()).seconds); },
  });
}

/** The node's outbox consumer (`outbox.postgres`): started, with its metrics; undefined when not configured. */
export async function startOutbox(node: Node, config: Config, metrics: Metrics, log: Logger): Promise<{ consumer: OutboxConsumer; lag(): Promise<OutboxLag> } | undefined> {
  const o = config.outbox;
  if (!o.postgres) return undefined;
  const consumer = new OutboxConsumer({
    url: o.postgres, table: o.table, pollIntervalMs: o.pollIntervalMs, batchSize: o.batchSize, log,
    publish: outboxPublisher(node, o.table),
  });
  registerMetrics(metrics, consumer, o.table);
  await consumer.start();
  return { consumer, lag: async () => ({ table: o.table, ...(await consumer.lag()) }) };
}
