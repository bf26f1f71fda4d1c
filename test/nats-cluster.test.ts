import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from './support/nats.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed, startGateway, token } from '../packages/server/test/helpers.ts';

/**
 * Cluster mode on NATS JetStream alone, end to end: a 3-node NATS cluster (each server with
 * its own JetStream directory, streams replicated 3 times) and two real gateway processes
 * started with `--nats` (no Redis anywhere), clients on both nodes, a node killed with
 * SIGKILL. The same checks `cluster.test.ts` makes of nodes on Redis: cross-node order,
 * recovery, session resume, idempotency, single sign-on, presence, server API control
 * messages.
 */
const CONFIG = {
  namespaces: {
    '': {},
    chat: { history: { size: 10_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true },
    live: { allowSubscribe: true, allowPublish: true },
    room: { presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true },
  },
  sessions: { maxPerUser: 1, onLimit: 'kick_oldest' },
  shutdown: { reconnectSpreadMs: 0 },
};
const API_KEY = 'cluster-api-key-0123456789';
const api = async (node: GatewayProcess, method: string, body: unknown = {}) => {
  const r = await fetch(`${node.url}/api/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `apikey ${API_KEY}` }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
};

let nats: NatsCluster;
let nodes: GatewayProcess[];

beforeAll(async () => {
  nats = await startNatsCluster();
  const dir = mkdtempSync(join(tmpdir(), 'sb-nats-cluster-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  // Each node's first server is another NATS server.
  const urls = nats.url.split(',');
  const args = (i: number) => ['--config', join(dir, 'config.json'), '--nats', [...urls.slice(i), ...urls.slice(0, i)].join(','), '--jwt-secret', SECRET, '--api-key', API_KEY];
  nodes = await Promise.all([startGatewayProcess({ args: args(0) }), startGatewayProcess({ args: args(1) })]);
}, 120_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill()));
  await nats?.stop();
});

const connect = (node: GatewayProcess, user: string) => connectAuthed(node.wsUrl, user);
const messages = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);
async function publishMany(c: RawClient, channel: string, count: number, tag: string): Promise<any[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => c.request({ type: 'publish', id: `${tag}-${i}`, channel, data: { tag, i } })));
}

describe('cluster mode on NATS JetStream alone', () => {
  it('delivers across nodes in order; publishers on both nodes interleave in one offset order; large publications arrive whole', async () => {
    const sub = await connect(nodes[1]!, 'bob');
    expect((await sub.request({ type: 'subscribe', channel: 'chat:order' })).type).toBe('ack');
    expect((await sub.request({ type: 'subscribe', channel: 'live:order' })).type).toBe('ack');
    const pub = await connect(nodes[0]!, 'alice');
    const acks = await publishMany(pub, 'chat:order', 100, 'o');
    expect(acks.map((a) => a.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await publishMany(pub, 'live:order', 20, 'l');
    await waitFor(() => messages(sub, 'chat:order').length === 100 && messages(sub, 'live:order').length === 20);
    expect(messages(sub, 'chat:order').map((m) => m.offset)).toEqual(acks.map((a) => a.offset));
    expect(messages(sub, 'live:order').map((m) => m.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const pub2 = await connect(nodes[1]!, 'dave');
    await Promise.all([publishMany(pub, 'chat:order', 30, 'x'), publishMany(pub2, 'chat:order', 30, 'y')]);
    await waitFor(() => messages(sub, 'chat:order').length === 160);
    expect(messages(sub, 'chat:order').map((m) => m.offset)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    // Large publications arrive whole, in order with the rest.
    const big = 'z'.repeat(30_000);
    await pub.request({ type: 'publish', channel: 'chat:order', data: { big } });
    await pub.request({ type: 'publish', channel: 'live:order', data: { big } });
    await pub.request({ type: 'publish', channel: 'chat:order', data: 'after' });
    await waitFor(() => messages(sub, 'chat:order').length === 162 && messages(sub, 'live:order').length === 21);
    expect(messages(sub, 'chat:order').slice(-2).map((m) => m.data)).toEqual([{ big }, 'after']);
    expect(messages(sub, 'live:order').at(-1).data).toEqual({ big });
    for (const c of [sub, pub, pub2]) c.close();
  });

  it('recovers on the other node, resumes the session there, and dedups ids cluster-wide', async () => {
    const a = await connect(nodes[0]!, 'erin');
    const session = a.frames.find((f) => f.type === 'auth_success').session;
    await a.request({ type: 'subscribe', channel: 'chat:rec' });
    const pub = await connect(nodes[1]!, 'frank');
    await publishMany(pub, 'chat:rec', 5, 'before');
    await waitFor(() => messages(a, 'chat:rec').length === 5);
    const last = messages(a, 'chat:rec').at(-1);
    a.close();
    await publishMany(pub, 'chat:rec', 7, 'missed');
    const b = new RawClient(`${nodes[1]!.wsUrl}?token=${await token('erin')}&session=${session}`);
    const auth = await b.next((f) => f.type === 'auth_success');
    expect([auth.resumed, auth.session]).toEqual([true, session]);
    const ack = await b.request({ type: 'subscribe', channel: 'chat:rec', since: { epoch: last.epoch, offset: last.offset } });
    expect(ack.recovered).toBe(true);
    expect(ack.publications.map((p: any) => p.offset)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    const first = await pub.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 });
    const live1 = await pub.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    const retry = await connect(nodes[0]!, 'frank');
    expect(await retry.request({ type: 'publish', id: 'dedup-1', channel: 'chat:rec', data: 1 })).toMatchObject({ type: 'ack', duplicate: true, offset: first.offset, epoch: first.epoch });
    const live2 = await retry.request({ type: 'publish', id: 'dedup-2', channel: 'live:rec', data: 1 });
    expect([live1.duplicate, live2.duplicate]).toEqual([false, true]);
    for (const c of [retry, b, pub]) c.close();
  });

  it('kicks the older login on the other node (SSO), and shares presence and join/leave across nodes', async () => {
    const first = await connect(nodes[0]!, 'lena');
    const second = await connect(nodes[1]!, 'lena');
    expect(await first.waitClose()).toBe(3504);
    expect(second.closeCode).toBeUndefined();
    const m = await connect(nodes[0]!, 'mona');
    const n = await connect(nodes[1]!, 'nick');
    await m.request({ type: 'subscribe', channel: 'room:r1' });
    await n.request({ type: 'subscribe', channel: 'room:r1' });
    await m.next((f) => f.type === 'join' && f.user === 'nick');
    // Presence is stored after the subscribe's ack: wait for both entries (shared on NATS).
    await waitFor(async () => Object.keys((await second.request({ type: 'presence', channel: 'room:r1' })).presence).sort().join() === 'mona,nick', 10_000, 'both users in presence');
    n.close();
    await m.next((f) => f.type === 'leave' && f.user === 'nick');
    await waitFor(async () => Object.keys((await second.request({ type: 'presence', channel: 'room:r1' })).presence).join() === 'mona');
    for (const c of [second, m]) c.close();
  });

  it('server API: disconnect on one node reaches the user on the other; info lists both nodes; channels sums them', async () => {
    const o = await connect(nodes[1]!, 'olga');
    expect((await api(nodes[0]!, 'disconnect', { user: 'olga', reason: 'banned' })).status).toBe(200);
    expect(await o.waitClose()).toBe(3503);
    const info = (await api(nodes[0]!, 'info')).body;
    expect(new Set(info.nodes.map((n: any) => n.pid))).toEqual(new Set(nodes.map((n) => n.proc.pid)));
    const t = await connect(nodes[0]!, 'tina');
    const u = await connect(nodes[1]!, 'uma');
    for (const c of [t, u]) await c.request({ type: 'subscribe', channel: 'chat:idx-a' });
    const expected = JSON.stringify([{ channel: 'chat:idx-a', subscribers: 2 }]);
    await waitFor(async () => JSON.stringify((await api(nodes[0]!, 'channels', { pattern: '*:idx-*' })).body.channels) === expected, 10_000, 'both nodes\' channels listed');
    for (const c of [t, u]) c.close();
  });

  it('loses no acknowledged publication when a node is killed with SIGKILL mid-stream', async () => {
    const victim = nodes[0]!;
    const sub = await connect(victim, 'gina');
    const first = await sub.request({ type: 'subscribe', channel: 'chat:crash' });
    const onVictim = await connect(victim, 'hank');
    const elsewhere = await connect(nodes[1]!, 'ivan');
    const acked = new Set<string>();
    let stop = false;
    const stream = async (c: RawClient, tag: string) => {
      for (let i = 0; !stop && c.closeCode === undefined; i++) {
        const r = await c.request({ type: 'publish', id: `${tag}-${i}`, channel: 'chat:crash', data: `${tag}-${i}` }).catch(() => undefined);
        if (r?.type === 'ack') acked.add(`${tag}-${i}`);
      }
    };
    const streams = [stream(onVictim, 'v'), stream(elsewhere, 'e')];
    await waitFor(() => acked.size >= 40);
    await victim.kill();
    await sub.waitClose();
    const seen = messages(sub, 'chat:crash');
    await waitFor(() => [...acked].filter((id) => id.startsWith('e-')).length >= 60);
    stop = true;
    await Promise.all(streams);
    const again = await connect(nodes[1]!, 'gina');
    const since = seen.length ? { epoch: seen.at(-1).epoch, offset: seen.at(-1).offset } : { epoch: first.epoch, offset: first.offset };
    const ack = await again.request({ type: 'subscribe', channel: 'chat:crash', since }, 10_000);
    expect(ack.recovered).toBe(true);
    const all = [...seen, ...ack.publications].map((p: any) => p.data);
    expect(new Set(all).size).toBe(all.length);
    for (const id of acked) expect(all).toContain(id);
    expect([...seen, ...ack.publications].map((p: any) => p.offset)).toEqual(Array.from({ length: all.length }, (_, i) => first.offset + i + 1));
    for (const c of [again, elsewhere]) c.close();
    await victim.restart();
  });
});
