import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe } from 'vitest';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { NatsSessionStore } from '../src/session/nats-session-store.ts';
import { runAccessStoreContract, START_MS } from '../src/access/access.contract.ts';
import { NatsAccessStore } from '../src/access/nats-access-store.ts';
import { runServerSubscriptionContract } from '../src/subscriptions/server-subscription.contract.ts';
import { NatsServerSubscriptionStore } from '../src/subscriptions/nats-server-subscription-store.ts';
import { NatsNames } from '../src/nats/names.ts';
import { openBucket } from '../src/nats/kv.ts';
import { startNatsCluster, type NatsCluster } from '../../../test/support/nats.ts';

let cluster: NatsCluster;
let nc: NatsConnection;
let bucket: Promise<KV>;
beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.url.split(',') });
  bucket = openBucket(nc, 'sbt_stores', 3);
  await bucket;
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

function clock(start = START_MS) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}
// Every store gets a space of its own in one bucket: a fresh, empty store on the shared cluster.
let n = 0;
const space = () => {
  const names = new NatsNames('sbt', { space: `s${++n}` });
  return (k: string) => names.key(k);
};

describe('NATS KV stores on a 3-node cluster (R3)', () => {
  runSessionStoreContract({
    name: 'nats',
    create() {
      const c = clock(Date.now());
      return { store: new NatsSessionStore({ kv: bucket, key: space(), now: c.now }), advance: c.advance };
    },
  });

  runAccessStoreContract({
    name: 'nats',
    create() {
      const c = clock();
      return { store: new NatsAccessStore({ kv: bucket, key: space(), now: c.now }), advance: c.advance };
    },
  });

  runServerSubscriptionContract({
    name: 'nats',
    durable: true,
    create() {
      const key = space();
      return { store: new NatsServerSubscriptionStore({ kv: bucket, key }), reopen: async () => new NatsServerSubscriptionStore({ kv: bucket, key }) };
    },
  });
});
