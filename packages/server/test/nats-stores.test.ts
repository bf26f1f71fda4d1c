import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { NatsSessionStore } from '../src/session/nats-session-store.ts';
import { runAccessStoreContract, START_MS } from '../src/access/access.contract.ts';
import { NatsAccessStore } from '../src/access/nats-access-store.ts';
import { runServerSubscriptionContract } from '../src/subscriptions/server-subscription.contract.ts';
import { NatsServerSubscriptionStore } from '../src/subscriptions/nats-server-subscription-store.ts';
import { NatsNames } from '../src/nats/names.ts';
import { openBucket } from '../src/nats/kv.ts';
import { runPresenceStoreContract } from '../src/presence/presence.contract.ts';
import { NatsPresenceStore } from '../src/presence/nats-presence-store.ts';
import { runLoginRegistryContract } from '../src/session/login-registry.contract.ts';
import { NatsLoginRegistry } from '../src/session/nats-login-registry.ts';
import { CasBucket } from '../src/nats/cas-bucket.ts';
import { NatsLiveness } from '../src/nats/liveness.ts';
import { runWebhookOutboxContract } from '../src/webhooks/webhook-outbox.contract.ts';
import { NatsWebhookOutbox } from '../src/webhooks/nats-webhook-outbox.ts';
import { startNatsCluster, type NatsCluster } from '../../../test/support/nats.ts';
import { waitFor } from '../../../test/support/ports.ts';

let cluster: NatsCluster;
let nc: NatsConnection;
let bucket: Promise<KV>;
let cas: CasBucket;
beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.url.split(',') });
  bucket = openBucket(nc, 'sbt_stores', 3);
  cas = new CasBucket(nc, await bucket, 'sbt_stores');
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
      return { store: new NatsAccessStore({ bucket: cas, key: space(), now: c.now }), advance: c.advance };
    },
  });

  /** A node's liveness in a fresh space (stopped with the store). */
  const node = async (key: (k: string) => string, id: string, o: { ttlMs?: number; intervalMs?: number } = {}) => new NatsLiveness({ kv: await bucket, cas, key, id, ...o });
  function withLiveness<S extends { close(): Promise<void> }>(store: S, l: NatsLiveness): S {
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      await l.stop();
    };
    return store;
  }

  runPresenceStoreContract({
    name: 'nats',
    async create() {
      const key = space();
      const l = await node(key, 'n1');
      return withLiveness(new NatsPresenceStore({ bucket: cas, key, liveness: l }), l);
    },
  });

  runLoginRegistryContract({
    name: 'nats',
    async create() {
      const key = space();
      const l = await node(key, 'n1');
      return withLiveness(new NatsLoginRegistry({ bucket: cas, key, liveness: l }), l);
    },
  });

  runWebhookOutboxContract({
    name: 'nats',
    durable: true,
    shared: true,
    create() {
      const key = space()('outbox');
      return { outbox: new NatsWebhookOutbox({ bucket: cas, key }), reopen: async () => new NatsWebhookOutbox({ bucket: cas, key }) };
    },
  });

  runServerSubscriptionContract({
    name: 'nats',
    durable: true,
    create() {
      const key = space();
      return { store: new NatsServerSubscriptionStore({ bucket: cas, key }), reopen: async () => new NatsServerSubscriptionStore({ bucket: cas, key }) };
    },
  });

  it("a dead node's presence, online users and logins stop counting; survivors keep theirs and settle the dead ones offline, once", async () => {
    const key = space();
    // A ttl well above the beat: a stalled event loop on a busy machine must not make a live node look dead.
    const fast = { ttlMs: 1500, intervalMs: 100 };
    const [la, ld] = [await node(key, 'alive', fast), await node(key, 'dead', fast)];
    const offline: string[] = [];
    const alive = new NatsPresenceStore({ bucket: cas, key, liveness: la, sweepMs: 100, onUserExpired: (u) => offline.push(u) });
    const alsoAlive = new NatsPresenceStore({ bucket: cas, key, liveness: la, sweepMs: 100, onUserExpired: (u) => offline.push(u) });
    const dead = new NatsPresenceStore({ bucket: cas, key, liveness: ld, sweepMs: 60_000 });
    const aliveLogins = new NatsLoginRegistry({ bucket: cas, key, liveness: la });
    const deadLogins = new NatsLoginRegistry({ bucket: cas, key, liveness: ld });
    try {
      await alive.add('chat:a', { client: 'c1', user: 'alice' });
      await dead.add('chat:a', { client: 'c2', user: 'bob' });
      expect(await alive.userUp('alice', 'c1')).toBe(true);
      expect(await dead.userUp('bob', 'c2')).toBe(true);
      const one = { maxPerUser: 1, onLimit: 'reject_new' } as const;
      await aliveLogins.acquire('*', 'alice', 'A', 'c1', one);
      await deadLogins.acquire('*', 'bob', 'B', 'c2', one);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: false, live: 1 });
      expect(Object.keys(await alive.get('chat:a')).sort()).toEqual(['alice', 'bob']);
      // The "dead" node stops beating (its process would be gone).
      await ld.stop();
      await waitFor(() => offline.includes('bob'), 10_000, 'bob settled offline by a surviving node');
      expect(Object.keys(await alive.get('chat:a'))).toEqual(['alice']);
      expect(await aliveLogins.logins('*', 'alice')).toEqual(['A']);
      expect(await aliveLogins.logins('*', 'bob')).toEqual([]);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: true, evicted: [] });
      await alive.sweep();
      await alsoAlive.sweep();
      expect(offline).toEqual(['bob']);
      expect(await alive.userUp('alice', 'c9')).toBe(false);
    } finally {
      for (const s of [alive, alsoAlive, dead, aliveLogins, deadLogins]) await s.close();
      await la.stop();
    }
  });
});
