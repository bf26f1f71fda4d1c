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
  c.on('error', () => {}); // the database restarted under it: the query rejects
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
      // The batch is retried and committed.
      await waitFor(() => consumer.published === 20, 15_000, 'the retried batch committed');
      expect(attempts).toHaveLength(40); // every row was published twice by the consumer…
      expect(messages(sub, 'orders:1').map((m) => m.data.i)).toEqual(Array.from({ length: 10 }, (_, k) => 2 * k + 1));
      expect(messages(sub, 'live:1').map((m) => m.data.i)).toEqual(Array.from({ length: 10 }, (_, k) => 2 * k));
      // …but stored and delivered once: offsets 1..10, and nothing more arrives.
      expect(messages(sub, 'orders:1').map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
      expect((await gw.node.history.position('orders:1')).offset).toBe(10);
      await waitFor(async () => (await consumer.lag()).rows === 0, 10_000, 'the table drained');
      expect([messages(sub, 'orders:1').length, messages(sub, 'live:1').length]).toEqual([10, 10]);
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

  it('a channel held by another consumer waits (rows behind other channels go on); the lag shows on /metrics and in the admin overview', async () => {
    const password = 'admin-test-password-1234';
    const gw = await startGateway({ namespaces: { live: { allowSubscribe: true } }, admin: { password }, outbox: { postgres: url, pollIntervalMs: 100 } });
    const sub = await connectAuthed(gw.wsUrl, 'u');
    for (const ch of ['live:held', 'live:free']) await sub.request({ type: 'subscribe', channel: ch });
    // Another consumer's transaction holds live:held (the lock a consumer takes per channel).
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard_outbox'), hashtext('live:held'))`);
      await insert([['live:held', 1], ['live:free', 1], ['live:held', 2], ['live:free', 2]]);
      await waitFor(() => messages(sub, 'live:free').length === 2, 10_000, 'the free channel delivered');
      expect(messages(sub, 'live:held')).toEqual([]);
      const login = await fetch(`${gw.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: gw.url }, body: JSON.stringify({ password }) });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const overview = async () => (await (await fetch(`${gw.url}/admin/api/overview`, { headers: { cookie } })).json()).outbox;
      await waitFor(async () => (await overview()).rows === 2, 10_000, 'the overview showing 2 rows waiting');
      expect(await overview()).toMatchObject({ table: 'switchboard_outbox', rows: 2 });
      expect((await overview()).seconds).toBeGreaterThanOrEqual(0);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/^switchboard_outbox_lag_rows\{table="switchboard_outbox"\} 2$/m);
      await holder.query('COMMIT');
      await waitFor(() => messages(sub, 'live:held').length === 2, 10_000, 'the held channel delivered once released');
      expect(messages(sub, 'live:held').map((m) => m.data)).toEqual([1, 2]);
      await waitFor(async () => (await overview()).rows === 0, 10_000, 'no lag');
    } finally {
      await holder.end();
      sub.close();
      await gw.close();
    }
  });

  it('a schema-qualified table (app.orders_outbox): init\'s DDL, its trigger and dead-letter table, consumed like the default', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const gw = await startGateway({ storage: 'memory', namespaces: { live: { allowSubscribe: true } } });
    const sub = await connectAuthed(gw.wsUrl, 'u');
    await sub.request({ type: 'subscribe', channel: 'live:q' });
    // A poll far away: only the trigger's notification can wake the consumer in time.
    const consumer = new OutboxConsumer({ url, table: 'app.orders_outbox', pollIntervalMs: 600_000, publish: outboxPublisher(gw.node, 'app.orders_outbox') });
    try {
      await admin.query('CREATE SCHEMA app');
      await admin.query(outboxDdl('app.orders_outbox'));
      await consumer.start();
      await admin.query(`INSERT INTO app.orders_outbox (channel, data, idempotency_key) VALUES ('live:q', '{"n":1}', 'k1'), ('no such:channel', '2', null), ('live:q', '{"n":3}', 'k1')`);
      await waitFor(() => messages(sub, 'live:q').length === 1, 10_000, 'the row delivered');
      await waitFor(async () => (await admin.query('SELECT count(*)::int AS n FROM app.orders_outbox')).rows[0].n === 0, 10_000, 'the table drained');
      // The repeated idempotency key published once; the bad channel moved aside.
      expect(messages(sub, 'live:q').map((m) => m.data)).toEqual([{ n: 1 }]);
      expect((await admin.query('SELECT channel FROM app.orders_outbox_dead')).rows).toEqual([{ channel: 'no such:channel' }]);
    } finally {
      await consumer.stop();
      await admin.end();
      sub.close();
      await gw.close();
    }
  });
});
