import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed } from '../packages/server/test/helpers.ts';

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
});

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill()));
  await redis?.stop();
});

const connect = (node: GatewayProcess, user: string) => connectAuthed(node.wsUrl, user);
const messages = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);

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
    const ack = await b.request({ type: 'subscribe', channel: 'chat:rec', since: { epoch: sub.epoch, offset: last.offset } });
    expect(ack.recovered).toBe(true);
    expect(ack.publications.map((p: any) => p.data.tag)).toEqual(Array(7).fill('missed'));
    expect(ack.publications.map((p: any) => p.offset)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // The same id published on another node is a duplicate with the first offset.
    const first = await pub.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    const again = await b.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    expect(again).toMatchObject({ type: 'ack', duplicate: true, offset: first.offset, epoch: first.epoch });
    const live1 = await pub.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    const live2 = await b.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    expect([live1.duplicate, live2.duplicate]).toEqual([false, true]);
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
    const since = seen.length ? { epoch: first.epoch, offset: seen.at(-1).offset } : { epoch: first.epoch, offset: first.offset };
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

    await redis.kill();
    const during = await pub.request({ type: 'publish', id: 'during-1', channel: 'chat:outage', data: 'lost?' });
    expect(during).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    const duringLive = await pub.request({ type: 'publish', id: 'during-2', channel: 'live:outage', data: 'lost?' });
    expect(duringLive).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    for (const n of nodes) expect((await fetch(`${n.url}/healthz`)).ok).toBe(true);

    await redis.restart();
    // Pub/sub messages may have been lost meanwhile: clients are told to reconnect (3000).
    expect(await sub.waitClose(15_000)).toBe(3000);
    expect(sub.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 3000, reason: 'reconnect' });
    const again = await connect(nodes[2]!, 'judy');
    // Redis ran without persistence: the stream is gone, so the epoch changed and the client is told.
    const ack = await again.request({ type: 'subscribe', channel: 'chat:outage', since: { epoch: s0.epoch, offset: 10 } });
    expect(ack).toMatchObject({ type: 'ack', recovered: false });
    expect(ack.epoch).not.toBe(s0.epoch);
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
  });
});
