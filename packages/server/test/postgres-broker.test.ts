import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import { runBrokerContract, RecordingHandler } from '../src/broker/broker.contract.ts';
import type { BrokerHandler } from '../src/broker/broker.ts';
import { PostgresBroker } from '../src/broker/postgres-broker.ts';
import { PgNames } from '../src/postgres/connect.ts';
import { startPostgres, type PostgresProcess } from '../../../test/support/postgres.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { freshSchema, schemaPool } from './postgres-fixtures.ts';

describe('PostgresBroker', () => {
  let server: PostgresProcess;
  let schema: string;
  beforeAll(async () => {
    server = await startPostgres();
    schema = await freshSchema(server.url);
  });
  afterAll(async () => {
    await server.stop();
  });
  const open = async (handler: BrokerHandler, s = schema) => {
    const b = new PostgresBroker(handler, { pool: schemaPool(server.url, s), target: { url: server.url, schema: s }, names: new PgNames(s) });
    await b.ready;
    return b;
  };

  // Every broker of the contract is a node on one database and schema.
  runBrokerContract({ create: (h) => open(h), multiNode: true });

  it('a publication too large for a notification travels by reference, in order with the rest', async () => {
    const h = new RecordingHandler();
    const a = await open(new RecordingHandler());
    const b = await open(h);
    try {
      await b.subscribe('c:big');
      const pub = (n: number, data: unknown): Publication => ({ channel: 'c:big', data, ts: n, offset: n, epoch: 'e' });
      const sent = [pub(1, 'small'), pub(2, 'x'.repeat(50_000)), pub(3, 'small again'), pub(4, { deep: 'y'.repeat(9000) })];
      await Promise.all(sent.map((p) => a.publish('c:big', p)));
      await waitFor(() => h.of('c:big').length === 4, 10_000, 'four publications');
      expect(h.of('c:big')).toEqual(sent);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('another schema is another deployment: nothing crosses', async () => {
    const other = await freshSchema(server.url);
    const h = new RecordingHandler();
    const a = await open(new RecordingHandler(), other);
    const b = await open(h);
    try {
      await b.subscribe('c:x');
      await a.publish('c:x', { channel: 'c:x', data: 1, ts: 1 });
      await a.publishControl({ type: 'user_event', event: 'online', user: 'u' });
      await b.publish('c:x', { channel: 'c:x', data: 2, ts: 2 });
      await waitFor(() => h.of('c:x').length === 1, 10_000, 'its own publication');
      expect(h.of('c:x').map((p) => p.data)).toEqual([2]);
      expect(h.controls).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the LISTEN connection cut by a server restart comes back and reports the gap', async () => {
    let gaps = 0;
    const h = Object.assign(new RecordingHandler(), { onGap: () => void gaps++ });
    const b = await open(h);
    const a = await open(new RecordingHandler());
    try {
      await b.subscribe('c:gap');
      await server.kill();
      await server.restart();
      await waitFor(() => gaps === 1, 20_000, 'onGap after the restart');
      await waitFor(async () => {
        await a.publish('c:gap', { channel: 'c:gap', data: 'after', ts: 1 }).catch(() => {});
        return h.of('c:gap').length > 0;
      }, 20_000, 'publications flow again');
      expect(h.of('c:gap')[0]!.data).toBe('after');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
