import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxConsumer, type OutboxRow } from '../src/outbox/outbox-consumer.ts';
import { outboxPublisher } from '../src/outbox/outbox.ts';
import { outboxDdl } from '../src/outbox/outbox-ddl.ts';
import { startPostgres, type PostgresProcess } from '../../../test/support/postgres.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';

/**
 * The outbox consumer against a real PostgreSQL and a real gateway (in process, memory
 * storage): a batch that published and then failed before its commit (what a crash between
 * the two leaves) is published again by the next batch, and stored and delivered once; the
 * database restarted under the consumer.
 */
let server: PostgresProcess;
let url: string;
beforeAll(async () => {
  server = await startPostgres();
  url = await server.database('app');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(outboxDdl('switchboard_outbox'));
  await c.end();
});
afterAll(async () => {
  await server.stop();
});

const insert = async (rows: Array<[string, unknown]>) => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    for (const [ch, data] of rows) await c.query('INSERT INTO switchboard_outbox (channel, data) VALUES ($1, $2)', [ch, JSON.stringify(data)]);
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
};
const messages = (c: RawClient, ch: string) => c.frames.filter((f) => f.type === 'message' && f.channel === ch);

describe('OutboxConsumer', () => {
  it('a batch that published and failed before its commit is published again: stored and delivered once', async () => {
    const gw = await startGateway({ storage: 'memory', namespaces: { orders: { history: { size: 100, ttl: '1h' }, allowSubscribe: true }, live: { allowSubscribe: true } } });
    const sub = await connectAuthed(gw.wsUrl, 'u');
    for (const ch of ['orders:1', 'live:1']) await sub.request({ type: 'subscribe', channel: ch });
    const publish = outboxPublisher(gw.node, 'switchboard_outbox');
    let crashAfter = 1;
    const attempts: number[] = [];
    const consumer = new OutboxConsumer({
      url, table: 'switchboard_outbox', pollIntervalMs: 100, batchSize: 50,
      async publish(rows: OutboxRow[]) {
        attempts.push(...rows.map((r) => r.id));
        const out = await publish(rows);
        // The first batch's publications succeed, then "the process dies": the batch rolls back.
        if (--crashAfter === 0) throw new Error('crash between publishing and committing');
        return out;
      },
    });
    try {
      await insert(Array.from({ length: 20 }, (_, i) => [i % 2 ? 'orders:1' : 'live:1', { i }]));
      await consumer.start();
      await waitFor(() => messages(sub, 'orders:1').length === 10 && messages(sub, 'live:1').length === 10, 15_000, 'every row delivered');
      expect(attempts.length).toBeGreaterThan(20); // some rows were published twice by the consumer…
      expect(messages(sub, 'orders:1').map((m) => m.data.i)).toEqual(Array.from({ length: 10 }, (_, k) => 2 * k + 1));
      expect(messages(sub, 'live:1').map((m) => m.data.i)).toEqual(Array.from({ length: 10 }, (_, k) => 2 * k));
      // …but stored and delivered once: offsets 1..10, and nothing more arrives.
      expect(messages(sub, 'orders:1').map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
      expect((await gw.node.history.position('orders:1')).offset).toBe(10);
      await waitFor(async () => (await consumer.lag()).rows === 0, 10_000, 'the table drained');
      expect(consumer.published).toBe(20);
    } finally {
      await consumer.stop();
      sub.close();
      await gw.close();
    }
  });

  it('keeps consuming across a PostgreSQL restart (LISTEN again, and the poll meanwhile)', async () => {
    const gw = await startGateway({ storage: 'memory', namespaces: { live: { allowSubscribe: true } } });
    const sub = await connectAuthed(gw.wsUrl, 'u');
    await sub.request({ type: 'subscribe', channel: 'live:r' });
    const consumer = new OutboxConsumer({ url, table: 'switchboard_outbox', pollIntervalMs: 200, publish: outboxPublisher(gw.node, 'switchboard_outbox') });
    try {
      await consumer.start();
      await insert([['live:r', 'before']]);
      await waitFor(() => messages(sub, 'live:r').length === 1, 10_000, 'the first row');
      await server.kill();
      await server.restart();
      await waitFor(async () => {
        await insert([['live:r', 'after']]).catch(() => {});
        return messages(sub, 'live:r').some((m) => m.data === 'after');
      }, 20_000, 'rows after the restart');
      expect(messages(sub, 'live:r')[0].data).toBe('before');
    } finally {
      await consumer.stop();
      sub.close();
      await gw.close();
    }
  });
});
