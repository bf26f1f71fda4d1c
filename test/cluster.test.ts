import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { sleep, waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed, token } from '../packages/server/test/helpers.ts';
import { createServer } from '../packages/server/src/server.ts';

/**
 * Cluster mode end to end: a real redis-server and three real gateway processes started
 * with `--redis`, clients on different nodes, nodes and Redis killed with SIGKILL.
 */
const CONFIG = {
  namespaces: {
    '': {},
    chat: { history: { size: 10_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true },
    live: { allowSubscribe: true, allowPublish: true },
    room: { presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true },
  },
  // Single sign-on: one login per user, the newest wins (on whichever node it connects).
  sessions: { maxPerUser: 1, onLimit: 'kick_oldest' },
  shutdown: { reconnectSpreadMs: 0 },
};

const API_KEY = 'cluster-api-key-0123456789';
/** Calls the server API of one node. */
const api = async (node: GatewayProcess, method: string, body: unknown = {}) => {
  const r = await fetch(`${node.url}/api/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `apikey ${API_KEY}` }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
};

let redis: RedisProcess;
let nodes: GatewayProcess[];

beforeAll(async () => {
  redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'sb-cluster-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  const args = ['--config', join(dir, 'config.json'), '--redis', redis.url, '--jwt-secret', SECRET, '--api-key', API_KEY];
  nodes = await Promise.all([0, 1, 2].map(() => startGatewayProcess({ args })));
}, 120_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill()));
  await redis?.stop();
});

const connect = (node: GatewayProcess, user: string) => connectAuthed(node.wsUrl, user);
const messages = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);

/** Connects once the node serves again (after an outage its stores reconnect one by one). */
const connectWhenBack = (node: GatewayProcess, user: string) => waitFor(async () => {
  const c = new RawClient(`${node.wsUrl}?token=${await token(user)}`);
  const f = await c.next((x) => x.type === 'auth_success' || x.type === 'auth_failed' || x.type === 'error');
  if (f.type === 'auth_success') return c;
  c.close();
  return undefined;
}, 15_000, `${user} authenticated again`);

/** The JSON log lines a gateway process wrote after `from` characters of its output. */
const logLines = (node: GatewayProcess, from: number): any[] =>
  node.output().slice(from).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

/** Publishes `count` messages without waiting for each ack; resolves with the acks in order. */
async function publishMany(c: RawClient, channel: string, count: number, tag: string): Promise<any[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => c.request({ type: 'publish', id: `${tag}-${i}`, channel, data: { tag, i } })));
}

describe('cluster mode', () => {
  it('delivers a publication on node 1 to subscribers on nodes 2 and 3, in order', async () => {
    const sub2 = await connect(nodes[1]!, 'bob');
    const sub3 = await connect(nodes[2]!, 'carol');
    expect((await sub2.request({ type: 'subscribe', channel: 'chat:order' })).type).toBe('ack');
    expect((await sub3.request({ type: 'subscribe', channel: 'live:order' })).type).toBe('ack');
    const pub = await connect(nodes[0]!, 'alice');
    const acks = await publishMany(pub, 'chat:order', 100, 'o');
    expect(acks.map((a) => a.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await publishMany(pub, 'live:order', 20, 'l');
    await waitFor(() => messages(sub2, 'chat:order').length === 100 && messages(sub3, 'live:order').length === 20);
    expect(messages(sub2, 'chat:order').map((m) => m.offset)).toEqual(acks.map((a) => a.offset));
    expect(messages(sub3, 'live:order').map((m) => m.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Publishers on two nodes interleave: every node sees one order, the offset order.
    const pub3 = await connect(nodes[2]!, 'dave');
    await Promise.all([publishMany(pub, 'chat:order', 30, 'x'), publishMany(pub3, 'chat:order', 30, 'y')]);
    await waitFor(() => messages(sub2, 'chat:order').length === 160);
    expect(messages(sub2, 'chat:order').map((m) => m.offset)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    for (const c of [sub2, sub3, pub, pub3]) c.close();
  });

  it('recovers on another node, resumes the session there, and dedups ids cluster-wide', async () => {
    const a = await connect(nodes[0]!, 'erin');
    const session = a.frames.find((f) => f.type === 'auth_success').session;
    const sub = await a.request({ type: 'subscribe', channel: 'chat:rec' });
    const pub = await connect(nodes[1]!, 'frank');
    await publishMany(pub, 'chat:rec', 5, 'before');
    await waitFor(() => messages(a, 'chat:rec').length === 5);
    const last = messages(a, 'chat:rec').at(-1);
    a.close();
    await publishMany(pub, 'chat:rec', 7, 'missed');
    const { token } = await import('../packages/server/test/helpers.ts');
    const b = new RawClient(`${nodes[2]!.wsUrl}?token=${await token('erin')}&session=${session}`);
    const auth = await b.next((f) => f.type === 'auth_success');
    expect(auth.resumed).toBe(true);
    expect(auth.session).toBe(session);
    // The position is the last publication seen (its epoch: the ack's is "0" while the stream was unwritten).
    expect(sub.epoch).toBe('0');
    const ack = await b.request({ type: 'subscribe', channel: 'chat:rec', since: { epoch: last.epoch, offset: last.offset } });
    expect(ack.recovered).toBe(true);
    expect(ack.publications.map((p: any) => p.data.tag)).toEqual(Array(7).fill('missed'));
    expect(ack.publications.map((p: any) => p.offset)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // The same publisher's id retried on another node is a duplicate with the first offset;
    // another user's equal id is its own publication (ids are scoped per publisher).
    const first = await pub.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    const live1 = await pub.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    const other = await b.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    expect(other).toMatchObject({ type: 'ack', duplicate: false });
    const retry = await connect(nodes[2]!, 'frank');
    const again = await retry.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    expect(again).toMatchObject({ type: 'ack', duplicate: true, offset: first.offset, epoch: first.epoch });
    const live2 = await retry.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    expect([live1.duplicate, live2.duplicate]).toEqual([false, true]);
    retry.close();
    b.close();
    pub.close();
  });

  it('kicks the older login of a user on another node (SSO), and shares presence and join/leave across nodes', async () => {
    const first = await connect(nodes[0]!, 'lena');
    const second = await connect(nodes[1]!, 'lena');
    expect(second.frames.at(-1).type).toBe('auth_success');
    expect(await first.waitClose()).toBe(3504);
    expect(first.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 3504 });
    expect(second.closeCode).toBeUndefined();

    const m = await connect(nodes[0]!, 'mona');
    const n = await connect(nodes[2]!, 'nick');
    await m.request({ type: 'subscribe', channel: 'room:r1' });
    await n.request({ type: 'subscribe', channel: 'room:r1' });
    await m.next((f) => f.type === 'join' && f.user === 'nick');
    const p = await second.request({ type: 'presence', channel: 'room:r1' });
    expect(Object.keys(p.presence).sort()).toEqual(['mona', 'nick']);
    n.close();
    await m.next((f) => f.type === 'leave' && f.user === 'nick');
    await waitFor(async () => Object.keys((await second.request({ type: 'presence', channel: 'room:r1' })).presence).join() === 'mona');
    for (const c of [second, m]) c.close();
  });

  it('server API: disconnect on one node reaches the user on another; info lists every node', async () => {
    const o = await connect(nodes[2]!, 'olga');
    const other = await connect(nodes[1]!, 'pete');
    expect((await api(nodes[0]!, 'disconnect', { user: 'olga', reason: 'banned' })).status).toBe(200);
    expect(await o.waitClose()).toBe(3503);
    expect(o.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 3503, reason: 'banned' });
    expect(other.closeCode).toBeUndefined();
    const info = (await api(nodes[0]!, 'info')).body;
    expect(info.nodes).toHaveLength(3);
    expect(new Set(info.nodes.map((n: any) => n.pid)).size).toBe(3);
    expect(info.totals.clients).toBe(info.nodes.reduce((a: number, n: any) => a + n.clients, 0));
    // Other nodes' numbers are as of their last announcement (every 5 s).
    await waitFor(async () => (await api(nodes[0]!, 'info')).body.nodes.find((n: any) => n.pid === nodes[1]!.proc.pid)?.clients >= 1, 15_000, 'node 2 announcing its client');
    other.close();
  });

  it('server API: push "all" sent to node 1 reaches every node\'s connections, once', async () => {
    const clients = [await connect(nodes[0]!, 'quinn'), await connect(nodes[1]!, 'rosa'), await connect(nodes[2]!, 'sven')];
    const notices = (c: RawClient, n: number) => c.frames.filter((f) => f.type === 'message' && f.channel === '*' && f.data?.notice === n);
    const first = await api(nodes[0]!, 'push', { type: 'all', content: { notice: 1 } });
    expect(first.status).toBe(200);
    expect(first.body.connections).toBeGreaterThanOrEqual(1);
    for (const c of clients) await c.next((f) => notices(c, 1).includes(f));
    expect(clients[1]!.frames.find((f) => f.channel === '*')).toMatchObject({ type: 'message', channel: '*', data: { notice: 1 } });
    // A second push from another node arrives after it (one control channel, in order): by
    // then a duplicate of the first would have arrived too. Nothing is stored.
    expect((await api(nodes[2]!, 'push', { type: 'all', content: { notice: 2 } })).status).toBe(200);
    for (const c of clients) {
      await c.next((f) => notices(c, 2).includes(f));
      expect([notices(c, 1).length, notices(c, 2).length]).toEqual([1, 1]);
      expect(notices(c, 1)[0].offset).toBeUndefined();
      c.close();
    }
  });

  it('server API: channels lists the channels of every node with summed subscriber counts', async () => {
    const t = await connect(nodes[1]!, 'tina');
    const u = await connect(nodes[2]!, 'uma');
    const v = await connect(nodes[2]!, 'vic');
    for (const [c, ch] of [[t, 'chat:idx-a'], [t, 'live:idx-b'], [u, 'chat:idx-a'], [v, 'chat:idx-a'], [v, 'room:other']] as const) {
      expect((await c.request({ type: 'subscribe', channel: ch })).type).toBe('ack');
    }
    const listed = async (node: GatewayProcess) => JSON.stringify((await api(node, 'channels', { pattern: '*:idx-*' })).body.channels);
    // Node 1 has no subscriber of its own; the others' channels reach Redis within a second.
    const expected = JSON.stringify([{ channel: 'chat:idx-a', subscribers: 3 }, { channel: 'live:idx-b', subscribers: 1 }]);
    await waitFor(async () => (await listed(nodes[0]!)) === expected, 10_000, 'node 1 listing both nodes\' channels');
    expect(await listed(nodes[1]!)).toBe(expected);
    u.close();
    v.close();
    const after = JSON.stringify([{ channel: 'chat:idx-a', subscribers: 1 }, { channel: 'live:idx-b', subscribers: 1 }]);
    await waitFor(async () => (await listed(nodes[0]!)) === after, 10_000, 'node 3\'s subscribers gone from the list');
    t.close();
    await waitFor(async () => (await listed(nodes[0]!)) === '[]', 10_000, 'no channel left');
  });

  it('loses no acknowledged publication when a node is killed with SIGKILL mid-stream', async () => {
    const victim = nodes[0]!;
    const sub = await connect(victim, 'gina');
    const first = await sub.request({ type: 'subscribe', channel: 'chat:crash' });
    const pubOnVictim = await connect(victim, 'hank');
    const pubElsewhere = await connect(nodes[1]!, 'ivan');
    const acked = new Set<string>();
    let stop = false;
    const stream = async (c: RawClient, tag: string) => {
      for (let i = 0; !stop && c.closeCode === undefined; i++) {
        const r = await c.request({ type: 'publish', id: `${tag}-${i}`, channel: 'chat:crash', data: `${tag}-${i}` }).catch(() => undefined);
        if (r?.type === 'ack') acked.add(`${tag}-${i}`);
      }
    };
    const streams = [stream(pubOnVictim, 'v'), stream(pubElsewhere, 'e')];
    await waitFor(() => acked.size >= 40);
    await victim.kill();
    await sub.waitClose();
    const seen = messages(sub, 'chat:crash');
    await waitFor(() => [...acked].filter((id) => id.startsWith('e-')).length >= 60);
    stop = true;
    await Promise.all(streams);
    // The subscriber reconnects to a surviving node and recovers from where it was.
    const again = await connect(nodes[2]!, 'gina');
    const since = seen.length ? { epoch: seen.at(-1).epoch, offset: seen.at(-1).offset } : { epoch: first.epoch, offset: first.offset };
    const ack = await again.request({ type: 'subscribe', channel: 'chat:crash', since }, 10_000);
    expect(ack.recovered).toBe(true);
    const all = [...seen, ...ack.publications].map((p: any) => p.data);
    expect(new Set(all).size).toBe(all.length);
    for (const id of acked) expect(all).toContain(id);
    expect([...seen, ...ack.publications].map((p: any) => p.offset)).toEqual(Array.from({ length: all.length }, (_, i) => first.offset + i + 1));
    for (const c of [again, pubElsewhere]) c.close();
    await victim.restart();
  });

  it('survives a Redis crash: refuses publishes with a temporary error, then resumes and makes clients recover', async () => {
    const sub = await connect(nodes[1]!, 'judy');
    const s0 = await sub.request({ type: 'subscribe', channel: 'chat:outage' });
    const pub = await connect(nodes[0]!, 'karl');
    const before = await publishMany(pub, 'chat:outage', 10, 'pre');
    await waitFor(() => messages(sub, 'chat:outage').length === 10);
    expect(before.every((a) => a.type === 'ack')).toBe(true);
    expect(s0.offset).toBe(0);

    const logFrom = nodes[0]!.output().length;
    const outageStart = Date.now();
    await redis.kill();
    const during = await pub.request({ type: 'publish', id: 'during-1', channel: 'chat:outage', data: 'lost?' });
    expect(during).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    const duringLive = await pub.request({ type: 'publish', id: 'during-2', channel: 'live:outage', data: 'lost?' });
    expect(duringLive).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    for (const n of nodes) expect((await fetch(`${n.url}/healthz`)).ok).toBe(true);
    // Many failures are a few warn lines, not one error line each.
    const flood = await publishMany(pub, 'chat:outage', 200, 'flood');
    expect(flood.every((r) => r.type === 'error' && r.code === 'internal' && r.temporary)).toBe(true);
    const viaApi = await api(nodes[0]!, 'publish', { channel: 'chat:outage', data: 'lost?' });
    expect([viaApi.status, viaApi.body.error.code, viaApi.body.error.temporary]).toEqual([503, 'internal', true]);

    await redis.restart();
    // Pub/sub messages may have been lost meanwhile: clients are told to reconnect (3000).
    expect(await sub.waitClose(15_000)).toBe(3000);
    expect(sub.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 3000, reason: 'reconnect' });
    const again = await connectWhenBack(nodes[2]!, 'judy');
    // Redis ran without persistence: the stream is gone, so the epoch changed and the client is told.
    const seen = messages(sub, 'chat:outage').at(-1);
    const ack = await again.request({ type: 'subscribe', channel: 'chat:outage', since: { epoch: seen.epoch, offset: 10 } });
    expect(ack).toMatchObject({ type: 'ack', recovered: false });
    expect(ack.epoch).not.toBe(seen.epoch);
    const pub2 = await waitFor(async () => {
      const c = await connect(nodes[0]!, 'karl');
      const r = await c.request({ type: 'publish', id: 'after-1', channel: 'chat:outage', data: 'after' });
      if (r.type === 'ack') return c;
      c.close();
      return undefined;
    }, 15_000, 'publishing again after Redis restarted');
    await waitFor(() => messages(again, 'chat:outage').some((m) => m.data === 'after'));
    expect(messages(again, 'chat:outage').map((m) => m.data)).toEqual(['after']);
    for (const c of [again, pub2, pub]) c.close();

    const lines = logLines(nodes[0]!, logFrom);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const warned = lines.filter((l) => l.msg === 'storage or broker unavailable: answering temporary errors');
    expect(warned.length).toBeGreaterThanOrEqual(1);
    expect(warned.every((l) => l.level === 40)).toBe(true);
    // At most one line a second, each counting the failures it stands for (the last window
    // may still be open: its count is not in yet).
    expect(warned.length).toBeLessThanOrEqual(Math.ceil((Date.now() - outageStart) / 1000) + 1);
    await waitFor(() => logLines(nodes[0]!, logFrom).filter((l) => l.failures !== undefined).reduce((n, l) => n + l.failures, 0) >= 203, 5000, 'every failure counted');
  });
});

describe('start-up', () => {
  it('a node starts (and so reports healthy) only once it receives control messages', async () => {
    // A proxy in front of Redis that holds back the subscriber connection's SUBSCRIBE.
    const held = holdSubscribe(redis.port);
    const port = await held.port;
    let started = false;
    const starting = createServer({ options: { port: 0, host: '127.0.0.1', redis: `redis://127.0.0.1:${port}`, auth: { jwtSecret: SECRET }, logLevel: 'silent' } })
      .then((s) => { started = true; return s; });
    await held.holding;
    // Without waiting for the control subscription the node would be up by now, deaf to kicks.
    await sleep(300);
    expect(started).toBe(false);
    held.release();
    const server = await starting;
    try {
      await server.listen();
      // Subscribed: Redis lists this node's subscriber connection with its one subscription.
      const { Redis } = await import('ioredis');
      const r = new Redis(redis.url);
      const list = (await r.client('LIST')) as string;
      r.disconnect();
      const mine = list.split('\n').find((l) => l.includes(` addr=127.0.0.1:${held.subscriberPort()} `));
      expect(mine).toMatch(/ name=switchboard:broker-sub .* sub=1 /);
    } finally {
      await server.close();
      held.close();
    }
  });
});

/**
 * A TCP proxy to Redis that forwards everything, except that on the connection named
 * `switchboard:broker-sub` it holds the first SUBSCRIBE (and all after it) until `release()`.
 */
function holdSubscribe(redisPort: number) {
  const sockets: Socket[] = [];
  const waiting: Array<() => void> = [];
  let released = false;
  let subscriberUpstream: Socket | undefined;
  let onHold!: () => void;
  const holding = new Promise<void>((r) => (onHold = r));
  const server = createTcpServer((client) => {
    const upstream = tcpConnect(redisPort, '127.0.0.1');
    sockets.push(client, upstream);
    let isSubscriber = false;
    let holdingHere = false;
    client.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (text.includes('switchboard:broker-sub')) {
        isSubscriber = true;
        subscriberUpstream = upstream;
      }
      if (!released && isSubscriber && (holdingHere || /subscribe/i.test(text))) {
        holdingHere = true;
        waiting.push(() => upstream.write(chunk));
        onHold();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  return {
    port,
    holding,
    /** The proxy's port towards Redis on the subscriber connection (its `addr` in CLIENT LIST). */
    subscriberPort: () => subscriberUpstream?.localPort,
    release() {
      released = true;
      for (const w of waiting.splice(0)) w();
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
