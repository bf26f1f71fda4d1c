import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { JetStreamHistoryStore } from '../src/history/jetstream-history-store.ts';
import { NatsNames } from '../src/nats/names.ts';
import { startNatsCluster, type NatsCluster } from '../../../test/support/nats.ts';

describe('JetStreamHistoryStore on a 3-node NATS cluster (R3)', () => {
  let cluster: NatsCluster;
  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  // Each store gets a space of its own on one stream and bucket: a fresh, empty store on the shared cluster.
  let n = 0;
  const prefixes = new WeakMap<JetStreamHistoryStore, string>();
  const open = async (prefix: string, now: () => number) => {
    const nc = await connect({ servers: cluster.url.split(',') });
    const store = new JetStreamHistoryStore({ nc, owns: true, names: new NatsNames('sbt', { space: prefix, shards: 2 }), replicas: 3, now });
    prefixes.set(store, prefix);
    return store;
  };

  runHistoryStoreContract({
    create: (clock) => open(`t${++n}`, clock.now),
    async reopen(store, clock) {
      await store.close();
      return open(prefixes.get(store as JetStreamHistoryStore)!, clock.now);
    },
  });

  it('two nodes at once: offsets without holes or repeats, a key stored once, a claim won once', async () => {
    const space = `t${++n}`;
    const [a, b] = [await open(space, Date.now), await open(space, Date.now)];
    try {
      const opts = (k?: string) => ({ size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000, ...(k ? { idempotencyKey: k, publisher: 'api' } : {}) });
      const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append('c:both', { channel: 'c:both', data: i, ts: Date.now() }, opts())));
      expect(acks.map((r) => r.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const keyed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).append('c:both', { channel: 'c:both', data: 'once', ts: Date.now() }, opts('k-1'))));
      expect(keyed.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(keyed.map((r) => r.offset))).toEqual(new Set([61]));
      const read = await a.read('c:both', { limit: 100, retention: opts() });
      expect(read.publications.map((p) => p.offset)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claimKey('n:x', 'k', 60_000)));
      expect(claims.filter(Boolean)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
