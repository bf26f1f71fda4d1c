import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe } from 'vitest';
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
});
