import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBrokerContract, RecordingHandler } from '../src/broker/broker.contract.ts';
import type { BrokerHandler } from '../src/broker/broker.ts';
import { NatsBroker } from '../src/broker/nats-broker.ts';
import { JetStreamHistoryStore } from '../src/history/jetstream-history-store.ts';
import { NatsNames } from '../src/nats/names.ts';
import { startNatsCluster, type NatsCluster } from '../../../test/support/nats.ts';
import { waitFor } from '../../../test/support/ports.ts';

describe('NatsBroker on a 3-node NATS cluster', () => {
  let cluster: NatsCluster;
  const conns: NatsConnection[] = [];
  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await cluster?.stop();
  });
  /** A node's connection, each to another server of the cluster (as nodes would be spread). */
  const conn = async () => {
    const urls = cluster.url.split(',');
    const nc = await connect({ servers: [urls[conns.length % urls.length]!, ...urls] , noRandomize: true });
    conns.push(nc);
    return nc;
  };
  const open = async (handler: BrokerHandler, names = new NatsNames('bk')) => {
    const b = new NatsBroker(handler, { nc: await conn(), names, servers: cluster.url.split(',') });
    await b.ready;
    return b;
  };

  // Every broker of the contract is a node of one deployment (one prefix).
  runBrokerContract({ create: (h) => open(h), multiNode: true });

  it('another prefix is another deployment: nothing crosses', async () => {
    const h = new RecordingHandler();
    const a = await open(new RecordingHandler(), new NatsNames('other'));
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

  it('publications stored on the history stream by several nodes reach every node in offset order', async () => {
    const names = new NatsNames('hs', { shards: 2 });
    const stores = await Promise.all([0, 1].map(async () => new JetStreamHistoryStore({ nc: await conn(), names, replicas: 3, publishes: true })));
    await stores[0]!.prepare();
    await stores[0]!.append('c:other', { channel: 'c:other', data: 0, ts: 1 }, { size: 100, ttlMs: 60_000, dedupWindowMs: 60_000 });
    const handlers = [new RecordingHandler(), new RecordingHandler()];
    const brokers = await Promise.all(handlers.map(async (h) => {
      const b = new NatsBroker(h, { nc: await conn(), names, servers: cluster.url.split(','), history: true });
      await b.ready;
      await b.subscribe('c:h');
      return b;
    }));
    try {
      const opts = { size: 1000, ttlMs: 60_000, dedupWindowMs: 60_000 };
      const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 2]!.appendAndPublish!('c:h', { channel: 'c:h', data: i, ts: Date.now(), ...(i === 5 ? { traceparent: 'tp' } : {}) } as never, opts)));
      expect(acks.map((a) => a.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      for (const h of handlers) {
        await waitFor(() => h.of('c:h').length === 60, 10_000, 'every publication on every node');
        expect(h.of('c:h').map((p) => p.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(h.of('c:other')).toEqual([]); // not subscribed there
        expect(h.of('c:h').find((p) => p.data === 5)).toMatchObject({ traceparent: 'tp' });
      }
      const read = await stores[1]!.read('c:h', { limit: 100, retention: opts });
      expect(read.publications.find((p) => p.data === 5)).not.toHaveProperty('traceparent');
    } finally {
      for (const b of brokers) await b.close();
      for (const s of stores) await s.close();
    }
  });
});
