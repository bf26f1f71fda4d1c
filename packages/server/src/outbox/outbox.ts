import { ReplyError } from '@switchboard/protocol';
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Node } from '../node.ts';
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
 * How a row becomes a publication on `node`: its channel resolved as a client's would be, its
 * data (JSON) published with an idempotency key of the outbox's own (`outbox:<table>`
 * publisher): the row's `idempotency_key`, else its id. A row refused for good (an invalid
 * channel or unknown namespace, data too large or too deep) is a dead letter with the reason;
 * a temporary failure (a store unreachable) rejects, and the batch is retried.
 */
export function outboxPublisher(node: Node, table: string): (row: OutboxRow) => Promise<OutboxOutcome> {
  const publisher = `outbox:${table}`;
  const maxBytes = node.config.limits.maxHttpBodyBytes;
  const dead = (reason: string): OutboxOutcome => ({ kind: 'dead', reason: reason.slice(0, 500) });
  return async (row) => {
    if (Buffer.byteLength(row.data) > maxBytes) return dead(`data is larger than limits.maxHttpBodyBytes (${maxBytes} bytes)`);
    try {
      const ch = node.resolve(row.channel);
      const r = await node.publish(ch, JSON.parse(row.data), { id: row.idempotencyKey ?? row.id, publisher });
      return { kind: 'published', duplicate: r.duplicate };
    } catch (err) {
      if (err instanceof ReplyError && !err.temporary) return dead(`${err.code}: ${err.message}`);
      throw err;
    }
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
