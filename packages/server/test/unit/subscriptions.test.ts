import { afterEach, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import { Connection, type ConnectionHost, type Subscription } from '../../src/connection/connection.ts';
import { Hub } from '../../src/hub.ts';
import { Outbox } from '../../src/connection/outbox.ts';
import { Subscriptions } from '../../src/subscriptions/subscriptions.ts';
import { HistoryReads } from '../../src/history/history-reads.ts';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.ts';
import type { HistoryStore } from '../../src/history/history-store.ts';
import { ChannelResolver } from '../../src/channels.ts';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { UnavailableReporter } from '../../src/unavailable.ts';
import { V1Protocol } from '../../src/protocols/v1/protocol.ts';
import type { CommandContext } from '../../src/protocols/command-context.ts';
import { TestTransport } from './test-transport.ts';

/**
 * The subscription state machine (`subscriptions/subscriptions.ts`) with fakes around it: a
 * real hub and memory history store, a broker and a history read the test releases by hand.
 */
const log = createLogger('silent');
const config = parseConfig({ storage: 'memory', namespaces: { chat: { history: { size: 100, ttl: '1h' } }, plain: {} } });
const retention = { size: 100, ttlMs: 3_600_000 };
let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** A promise the test resolves or rejects. */
function gate<T = unknown>() {
  let open!: (v: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

function setup() {
  const store = new MemoryHistoryStore();
  const reads: Array<ReturnType<typeof gate>> = [];
  // History reads wait for the test (the store answers at once otherwise).
  const gated = new Proxy(store, {
    get(t, prop, r) {
      if (prop !== 'read') return Reflect.get(t, prop, r);
      return async (...args: Parameters<HistoryStore['read']>) => {
        const g = gate();
        reads.push(g);
        await g.promise;
        return t.read(...args);
      };
    },
  }) as HistoryStore;
  const joins: Array<ReturnType<typeof gate<void>>> = [];
  const events: string[] = [];
  const hub = new Hub();
  const failures = new UnavailableReporter({ log });
  cleanup.push(() => failures.close());
  const subs = new Subscriptions({
    config, hub, channels: new ChannelResolver(config), failures,
    historyReads: new HistoryReads({ store: gated, inFlight: 4, maxBytes: 1 << 20 }),
    broker: {
      subscribe: (channel) => {
        const g = gate<void>();
        joins.push(g);
        events.push(`broker+ ${channel}`);
        return g.promise;
      },
      unsubscribe: async (channel) => void events.push(`broker- ${channel}`),
    },
    tracker: { joined: (_c, ch) => void events.push(`joined ${ch.name}`), left: (_c, ch) => void events.push(`left ${ch}`) },
    sso: { settle: () => {} },
    webhooks: { channel: (e, ch) => void events.push(`${e} ${ch}`) },
  });
  const host: ConnectionHost = { limits: config.limits, metrics: { error() {} }, log, outbox: new Outbox(), closed: () => {} };
  const v1 = new V1Protocol({} as CommandContext);
  let users = 0;
  const connect = () => {
    const t = new TestTransport();
    const conn = new Connection(host, t, { ip: '127.0.0.1', headers: {} }, v1);
    const identity = { user: `u${++users}`, session: 's', login: 's', anonymous: true, info: undefined, expiresAtMs: undefined, grants: { subscribe: [], publish: [] } };
    if (!conn.beginAuthentication(identity) || !conn.becomeReady()) throw new Error('not authenticated');
    return { conn, t };
  };
  const publish = async (channel: string, n: number) => {
    const ts = Date.now();
    const r = await store.append(channel, { channel, data: { n }, ts }, { ...retention, dedupWindowMs: 60_000 });
    const pub: Publication = { channel, data: { n }, ts, epoch: r.epoch, offset: r.offset };
    hub.deliver(channel, pub);
    return pub;
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { store, subs, hub, reads, joins, events, connect, publish, tick, resolve: (name: string) => new ChannelResolver(config).resolve(name) };
}

describe('unit: the subscription state machine', () => {
  it('pending → recovering → live: holds what is published meanwhile and releases it once, past the replayed position', async () => {
    const s = setup();
    await s.publish('chat:a', 1);
    const { conn, t } = s.connect();
    const states: string[] = [];
    let sub: Subscription | undefined;
    const done = s.subs.subscribe(conn, s.resolve('chat:a'), { since: { epoch: (await s.store.position('chat:a')).epoch, offset: 0 } }, async (got, result) => {
      states.push(got.state);
      // Read after 3 was stored: the replay carries 1-3, the held copy of 3 is dropped.
      expect(result.publications!.map((p) => p.offset)).toEqual([1, 2, 3]);
      await s.publish('chat:a', 4); // while the client is given the replay: held, then released
      await s.tick();
      expect(t.frames).toEqual([]);
    });
    sub = conn.subscriptions.get('chat:a');
    expect(sub?.state).toBe('pending');
    expect(s.events).toEqual(['occupied chat:a', 'broker+ chat:a']);
    await s.publish('chat:a', 2); // before the broker subscription: held (the replay carries it)
    s.joins[0]!.open(undefined);
    await s.tick();
    expect(sub?.state).toBe('recovering');
    await s.publish('chat:a', 3); // during the history read: held, released after the announce
    s.reads[0]!.open(undefined);
    expect(await done).toBe(sub);
    expect(states).toEqual(['recovering']);
    expect(sub!.state).toBe('live');
    await s.publish('chat:a', 5);
    // A broker that lags delivers 2 again: it is at or below the position, never sent twice.
    s.hub.deliver('chat:a', { channel: 'chat:a', data: { n: 2 }, ts: Date.now(), epoch: sub!.position!.epoch!, offset: 2 });
    await s.tick();
    expect(t.frames.filter((f) => f.type === 'message').map((f) => f.offset)).toEqual([4, 5]);
    expect(s.events.at(-1)).toBe('joined chat:a');
  });

  it('closed while pending: never announced, never live, not joined; the channel is vacated', async () => {
    const s = setup();
    const { conn } = s.connect();
    let announced = false;
    const done = s.subs.subscribe(conn, s.resolve('chat:b'), {}, () => void (announced = true));
    const sub = conn.subscriptions.get('chat:b')!;
    expect(s.subs.close(conn, 'chat:b')).toBe(true);
    expect(sub.state).toBe('closed');
    s.joins[0]!.open(undefined);
    expect(await done).toBeUndefined();
    expect(announced).toBe(false);
    expect(s.events).toEqual(['occupied chat:b', 'broker+ chat:b', 'broker- chat:b', 'vacated chat:b', 'left chat:b']);
    expect(s.subs.close(conn, 'chat:b')).toBe(false);
  });

  it('a broker that fails closes the subscription with a temporary error', async () => {
    const s = setup();
    const { conn } = s.connect();
    const done = s.subs.subscribe(conn, s.resolve('plain:c'), {}, () => {});
    const sub = conn.subscriptions.get('plain:c')!;
    s.joins[0]!.fail(new Error('broker down'));
    await expect(done).rejects.toMatchObject({ code: 'internal', temporary: true });
    expect(sub.state).toBe('closed');
    expect(conn.subscriptions.size).toBe(0);
  });

  it('the connection closing during the history read ends it: nothing is announced, nothing sent', async () => {
    const s = setup();
    await s.publish('chat:d', 1);
    const { conn, t } = s.connect();
    let announced = false;
    const done = s.subs.subscribe(conn, s.resolve('chat:d'), { rewind: 5 }, () => void (announced = true));
    s.joins[0]!.open(undefined);
    await s.tick();
    conn.closed(1006);
    s.subs.connectionClosed(conn);
    s.reads[0]!.open(undefined);
    expect(await done).toBeUndefined();
    expect(announced).toBe(false);
    expect(t.frames).toEqual([]);
    // Closed connections are never subscribed.
    expect(await s.subs.subscribe(conn, s.resolve('chat:d'), {}, () => void (announced = true))).toBeUndefined();
    expect(announced).toBe(false);
  });

  it('a later subscriber of a channel waits for the first one\'s broker subscription', async () => {
    const s = setup();
    const a = s.connect();
    const b = s.connect();
    const first = s.subs.subscribe(a.conn, s.resolve('plain:e'), {}, () => {});
    let bLive = false;
    const second = s.subs.subscribe(b.conn, s.resolve('plain:e'), {}, () => void (bLive = true));
    await s.tick();
    expect(bLive).toBe(false);
    expect(s.joins).toHaveLength(1);
    s.joins[0]!.open(undefined);
    await Promise.all([first, second]);
    expect(bLive).toBe(true);
  });
});
