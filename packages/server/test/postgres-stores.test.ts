import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { PostgresSessionStore } from '../src/session/postgres-session-store.ts';
import { runAccessStoreContract, START_MS } from '../src/access/access.contract.ts';
import { PostgresAccessStore } from '../src/access/postgres-access-store.ts';
import { runServerSubscriptionContract } from '../src/subscriptions/server-subscription.contract.ts';
import { PostgresServerSubscriptionStore } from '../src/subscriptions/postgres-server-subscription-store.ts';
import { runPresenceStoreContract } from '../src/presence/presence.contract.ts';
import { PostgresPresenceStore } from '../src/presence/postgres-presence-store.ts';
import { runLoginRegistryContract } from '../src/session/login-registry.contract.ts';
import { PostgresLoginRegistry } from '../src/session/postgres-login-registry.ts';
import { runWebhookOutboxContract } from '../src/webhooks/webhook-outbox.contract.ts';
import { PostgresWebhookOutbox } from '../src/webhooks/postgres-webhook-outbox.ts';
import { runAdminStoreContract } from '../src/admin/admin-store.contract.ts';
import { PostgresAdminStore } from '../src/admin/postgres-admin-store.ts';
import { PgNodeLiveness } from '../src/postgres/liveness.ts';
import { startPostgres, type PostgresProcess } from '../../../test/support/postgres.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { freshSchema, schemaPool } from './postgres-fixtures.ts';

let server: PostgresProcess;
let shared: string;
beforeAll(async () => {
  server = await startPostgres();
  shared = await freshSchema(server.url);
});
afterAll(async () => {
  await server.stop();
});

function clock(start = START_MS) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}
const pool = (schema: string) => schemaPool(server.url, schema);
/** A node's liveness on `schema` (its own pool, ended by `stop`). */
const liveness = (schema: string, o: { ttlMs?: number; intervalMs?: number } = {}) => new PgNodeLiveness({ pool: pool(schema), owns: true, id: `n_${randomBytes(4).toString('hex')}`, ...o });
/** Closes `liveness` with the store. */
function withLiveness<S extends { close(): Promise<void> }>(store: S, l: PgNodeLiveness): S {
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await l.stop();
  };
  return store;
}

describe('Postgres stores', () => {
  runSessionStoreContract({
    name: 'postgres',
    async create() {
      const c = clock(Date.now());
      return { store: new PostgresSessionStore({ pool: pool(await freshSchema(server.url)), now: c.now, sweepEvery: 100 }), advance: c.advance };
    },
  });

  runAccessStoreContract({
    name: 'postgres',
    async create() {
      const c = clock();
      return { store: new PostgresAccessStore({ pool: pool(await freshSchema(server.url)), now: c.now }), advance: c.advance };
    },
  });

  runServerSubscriptionContract({
    name: 'postgres',
    durable: true,
    async create() {
      const schema = await freshSchema(server.url);
      const opened: PostgresServerSubscriptionStore[] = [];
      const open = () => {
        const s = new PostgresServerSubscriptionStore({ pool: pool(schema) });
        opened.push(s);
        return s;
      };
      return { store: open(), reopen: async () => open(), dispose: async () => { for (const s of opened) await s.close(); } };
    },
  });

  runWebhookOutboxContract({
    name: 'postgres',
    durable: true,
    shared: true,
    async create() {
      const schema = await freshSchema(server.url);
      const opened: PostgresWebhookOutbox[] = [];
      const open = () => {
        const o = new PostgresWebhookOutbox({ pool: pool(schema) });
        opened.push(o);
        return o;
      };
      return { outbox: open(), reopen: async () => open(), dispose: async () => { for (const o of opened) await o.close(); } };
    },
  });

  runPresenceStoreContract({
    name: 'postgres',
    async create() {
      const schema = await freshSchema(server.url);
      const l = liveness(schema);
      return withLiveness(new PostgresPresenceStore({ pool: pool(schema), liveness: l }), l);
    },
  });

  runLoginRegistryContract({
    name: 'postgres',
    async create() {
      const schema = await freshSchema(server.url);
      const l = liveness(schema);
      return withLiveness(new PostgresLoginRegistry({ pool: pool(schema), liveness: l }), l);
    },
  });

  describe('admin', () => {
    runAdminStoreContract({ shared: true, create: () => new PostgresAdminStore({ pool: pool(shared) }) });
  });

  it("a dead node's presence, online users and logins stop counting; survivors keep theirs and settle the dead ones offline", async () => {
    const schema = await freshSchema(server.url);
    // A ttl well above the beat: a stalled event loop on a busy machine must not make a live node look dead.
    const fast = { ttlMs: 1500, intervalMs: 100 };
    const [la, ld] = [liveness(schema, fast), liveness(schema, fast)];
    const offline: string[] = [];
    const alive = new PostgresPresenceStore({ pool: pool(schema), liveness: la, sweepMs: 100, onUserExpired: (u) => offline.push(u) });
    const dead = new PostgresPresenceStore({ pool: pool(schema), liveness: ld, sweepMs: 60_000 });
    const aliveLogins = new PostgresLoginRegistry({ pool: pool(schema), liveness: la });
    const deadLogins = new PostgresLoginRegistry({ pool: pool(schema), liveness: ld });
    try {
      await alive.add('chat:a', { client: 'c1', user: 'alice' });
      await dead.add('chat:a', { client: 'c2', user: 'bob' });
      expect(await alive.userUp('alice', 'c1')).toBe(true);
      expect(await dead.userUp('bob', 'c2')).toBe(true);
      const one = { maxPerUser: 1, onLimit: 'reject_new' } as const;
      await aliveLogins.acquire('*', 'alice', 'A', 'c1', one);
      await deadLogins.acquire('*', 'bob', 'B', 'c2', one);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: false, live: 1 });
      // The "dead" node stops beating (its process would be gone).
      await ld.stop();
      await waitFor(() => offline.includes('bob'), 10_000, 'bob settled offline by the surviving node');
      expect(Object.keys(await alive.get('chat:a'))).toEqual(['alice']);
      expect(await aliveLogins.logins('*', 'alice')).toEqual(['A']);
      expect(await aliveLogins.logins('*', 'bob')).toEqual([]);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: true, evicted: [] });
      expect(offline).toEqual(['bob']);
      expect(await alive.userUp('alice', 'c9')).toBe(false);
      // Once it holds nothing (settled, swept), the dead node itself is forgotten; the live one stays.
      await alive.sweep();
      await la.forgetDead(0);
      const p = pool(schema);
      const { rows } = await p.query('SELECT id FROM sb_nodes').finally(() => p.end());
      expect(rows.map((r) => r.id)).toEqual([la.id]);
    } finally {
      for (const s of [alive, dead, aliveLogins, deadLogins]) await s.close();
      await la.stop();
    }
  });
});
