import { afterEach, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import { Connection, Subscription, type AuthenticatedConnection, type ConnectionHost } from '../../src/connection/connection.ts';
import type { ProtocolEncoder, ServerEvent, WireProtocol } from '../../src/connection/protocol.ts';
import { Outbox } from '../../src/connection/outbox.ts';
import { Hub } from '../../src/hub.ts';
import { v1Encoder } from '../../src/protocols/v1/encoder.ts';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { TestTransport } from './test-transport.ts';

/**
 * The hub with fakes around it: connections on TestTransports, speaking protocol v1 or a
 * second, made-up wire protocol (`pipe`: `channel|data` text), to show that a protocol
 * plugs in at the seam and that fan-out encodes once per protocol.
 */
const config = parseConfig({ storage: 'memory' });
const log = createLogger('silent');

/** A second wire protocol: publications as `channel|json` lines; it has no frame for presence events. */
class PipeEncoder implements ProtocolEncoder {
  publications = 0;
  publication(pub: Publication): Buffer {
    this.publications++;
    return Buffer.from(JSON.stringify({ pipe: `${pub.channel}|${JSON.stringify(pub.data)}` }));
  }
  event(e: ServerEvent): Buffer | undefined {
    return e.type === 'ping' ? Buffer.from('{"pipe":"ping"}') : undefined;
  }
}

/** v1's encoder, counting what it encodes. */
class CountingV1 implements ProtocolEncoder {
  publications = 0;
  publication(pub: Publication, delta?: string): Buffer {
    this.publications++;
    return v1Encoder.publication(pub, delta);
  }
  event(e: ServerEvent): Buffer | undefined {
    return v1Encoder.event(e);
  }
}

const protocolOf = (encoder: ProtocolEncoder): WireProtocol<Connection> => ({
  name: 'test', encoder, opened() {}, async handle() {}, idOf: () => undefined,
});

let users = 0;
let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function connect(encoder: ProtocolEncoder, user = `u${++users}`): { conn: AuthenticatedConnection; t: TestTransport } {
  const host: ConnectionHost = { limits: config.limits, metrics: { error() {} }, log, outbox: new Outbox(), closed: () => {} };
  const t = new TestTransport();
  const conn = new Connection(host, t, { ip: '127.0.0.1', headers: {} }, protocolOf(encoder));
  const identity = { user, session: 's', login: 's', anonymous: true, info: undefined, expiresAtMs: undefined, grants: { subscribe: [], publish: [] } };
  if (!conn.beginAuthentication(identity) || !conn.becomeReady()) throw new Error('not authenticated');
  cleanup.push(() => conn.closed(1000));
  return { conn, t };
}

const subscribe = (hub: Hub, conn: Connection, channel: string, o: { history?: boolean } = {}) => {
  const sub = new Subscription(conn, channel, { history: o.history ?? false, delta: false });
  const first = hub.addSubscriber(sub);
  return { sub, first };
};
const tick = () => new Promise((r) => setImmediate(r));
const pub = (channel: string, n: number, offset?: number): Publication => ({ channel, data: { n }, ts: 1, ...(offset !== undefined ? { offset, epoch: 'e' } : {}) });

describe('unit: the hub', () => {
  it('encodes a publication once per wire protocol, whatever the number of subscribers, each in its own format', async () => {
    const hub = new Hub();
    const v1 = new CountingV1();
    const pipe = new PipeEncoder();
    const clients = [connect(v1), connect(pipe), connect(v1), connect(pipe), connect(v1), connect(pipe)];
    for (const c of clients) subscribe(hub, c.conn, 'room:1');
    expect(hub.deliver('room:1', pub('room:1', 7))).toBe(6);
    expect([v1.publications, pipe.publications]).toEqual([1, 1]);
    await tick();
    expect(clients[0]!.t.frames).toEqual([{ type: 'message', channel: 'room:1', data: { n: 7 }, ts: 1 }]);
    expect(clients[1]!.t.frames).toEqual([{ pipe: 'room:1|{"n":7}' }]);
  });

  it('says when a channel gains its first and loses its last local subscriber; the record is closed', () => {
    const hub = new Hub();
    const a = connect(v1Encoder);
    const b = connect(v1Encoder);
    expect(subscribe(hub, a.conn, 'c').first).toBe(true);
    const { sub, first } = subscribe(hub, b.conn, 'c');
    expect(first).toBe(false);
    expect(hub.stats).toMatchObject({ channels: 1, subscriptions: 2 });
    const v = hub.version;
    expect(hub.removeSubscriber(b.conn, 'c')).toBe(false);
    expect(sub.state).toBe('closed');
    expect(b.conn.subscriptions.has('c')).toBe(false);
    expect(hub.version).toBeGreaterThan(v);
    expect(hub.removeSubscriber(b.conn, 'c')).toBe(false); // not subscribed: nothing changes
    expect(hub.removeSubscriber(a.conn, 'c')).toBe(true);
    expect(hub.stats).toMatchObject({ channels: 0, subscriptions: 0 });
    expect(hub.deliver('c', pub('c', 1))).toBe(0);
  });

  it('holds publications for a subscription that recovers, and skips what is at or below its position', async () => {
    const hub = new Hub();
    const a = connect(v1Encoder);
    const { sub } = subscribe(hub, a.conn, 'h', { history: true });
    hub.deliver('h', pub('h', 1, 1));
    expect(sub.buffer!.map((p) => p.offset)).toEqual([1]);
    expect(sub.bufferedBytes).toBeGreaterThan(0);
    // Live at offset 2 (what a replay gave): 1 and 2 are not sent again, 3 is.
    sub.buffer = null;
    sub.state = 'live';
    sub.position = { epoch: 'e', offset: 2 };
    for (const n of [1, 2, 3]) hub.deliver('h', pub('h', n, n));
    await tick();
    expect(a.t.frames.map((f) => f.offset)).toEqual([3]);
    expect(sub.position).toEqual({ epoch: 'e', offset: 3 });
  });

  it('knows each user\'s authenticated connections; removing a client closes its subscriptions and names the emptied channels', () => {
    const hub = new Hub();
    const a1 = connect(v1Encoder, 'alice');
    const a2 = connect(v1Encoder, 'alice');
    hub.addClient(a1.conn);
    hub.addClient(a2.conn);
    expect([...hub.connectionsOf('alice')]).toEqual([a1.conn, a2.conn]);
    const { sub } = subscribe(hub, a1.conn, 'only-a1');
    subscribe(hub, a1.conn, 'shared');
    subscribe(hub, a2.conn, 'shared');
    expect(hub.removeClient(a1.conn)).toEqual(['only-a1']);
    expect(sub.state).toBe('closed');
    expect([...hub.connectionsOf('alice')]).toEqual([a2.conn]);
    expect(hub.stats).toMatchObject({ clients: 1, users: 1, channels: 1, subscriptions: 1 });
  });
});
