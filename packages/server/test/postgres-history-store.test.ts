import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { PostgresHistoryStore } from '../src/history/postgres-history-store.ts';
import { PgNames, shardOf } from '../src/postgres/connect.ts';
import { startPostgres, type PostgresProcess } from '../../../test/support/postgres.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { freshSchema, schemaPool } from './postgres-fixtures.ts';

describe('PostgresHistoryStore', () => {
  let server: PostgresProcess;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server.stop();
  });
  // Each store gets a schema of its own: a fresh, empty store on the shared server.
  const schemas = new WeakMap<PostgresHistoryStore, string>();
  const open = (schema: string, now: () => number) => {
    const store = new PostgresHistoryStore({ pool: schemaPool(server.url, schema), now });
    schemas.set(store, schema);
    return store;
  };

  runHistoryStoreContract({
    create: async (clock) => open(await freshSchema(server.url), clock.now),
    async reopen(store, clock) {
      await store.close();
      return open(schemas.get(store as PostgresHistoryStore)!, clock.now);
    },
    async stored(store) {
      const pool = schemaPool(server.url, schemas.get(store as PostgresHistoryStore)!);
      try {
        const { rows } = await pool.query<{ n: string }>(
          'SELECT (SELECT count(*) FROM sb_history_streams) + (SELECT count(*) FROM sb_history_pubs) + (SELECT count(*) FROM sb_history_keys) + (SELECT count(*) FROM sb_history_claims) AS n',
        );
        return Number(rows[0]!.n);
      } finally {
        await pool.end();
      }
    },
  });

  it('appendAndPublish notifies in offset order, in the storing transaction; a duplicate notifies nothing; large publications travel by reference', async () => {
    const schema = await freshSchema(server.url);
    const names = new PgNames(schema);
    const store = new PostgresHistoryStore({ pool: schemaPool(server.url, schema), publish: names });
    const listener = new pg.Client({ connectionString: server.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    try {
      for (const ch of ['b:one', 'b:two']) await listener.query(`LISTEN "${names.shard(shardOf(ch))}"`);
      const opts = (id: string) => ({ size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000, idempotencyKey: id, publisher: 'api' });
      const calls = ['b:one', 'b:two'].flatMap((ch) => Array.from({ length: 100 }, (_, i) => ({ ch, i, id: i === 7 ? 'k3' : `k${i}` })));
      const results = await Promise.all(calls.map(({ ch, i, id }) => store.appendAndPublish!(ch, { channel: ch, data: i, ts: Date.now() }, opts(id))));
      expect(results.filter((r) => r.duplicate)).toHaveLength(2);
      const big = await store.appendAndPublish!('b:one', { channel: 'b:one', data: 'x'.repeat(20_000), ts: Date.now() }, opts('big'));
      await waitFor(() => heard.length === 199, 10_000, 'every publication notified');
      for (const ch of ['b:one', 'b:two']) {
        const offsets = heard.filter((p) => p.startsWith('{') && JSON.parse(p).channel === ch).map((p) => JSON.parse(p).offset);
        expect(offsets).toEqual(Array.from({ length: 99 }, (_, k) => k + 1));
      }
      const ref = heard.at(-1)!;
      expect(ref).toMatch(/^@\d+$/);
      const pool = schemaPool(server.url, schema);
      const { rows } = await pool.query('SELECT body FROM sb_broker_large WHERE id = $1', [ref.slice(1)]).finally(() => pool.end());
      expect(JSON.parse(rows[0].body)).toMatchObject({ channel: 'b:one', offset: big.offset, data: 'x'.repeat(20_000) });
    } finally {
      await listener.end();
      await store.close();
    }
  });
});
