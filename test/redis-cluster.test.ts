import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { startRedisCluster, type RedisClusterProcess } from './support/redis-cluster.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed, token } from '../packages/server/test/helpers.ts';
import { RedisKeys } from '../packages/server/src/redis/keys.ts';

/**
 * Two real gateway processes on a real 3-primary Redis Cluster (`redis+cluster://`), one
 * cluster for the whole file: delivery in order across nodes on channels of every shard,
 * recovery on the other node, single sign-on across nodes, and a gateway killed with SIGKILL.
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

let cluster: RedisClusterProcess;
let nodes: GatewayProcess[];
/** For each primary (by port), channels whose slot it owns. */
let channelsByShard: Map<number, string[]>;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-cluster-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  const args = ['--config', join(dir, 'config.json'), '--redis', cluster.url, '--jwt-secret', SECRET];
  nodes = await Promise.all([0, 1].map(() => startGatewayProcess({ args, startTimeoutMs: 150_000 })));
  // Which primary owns each candidate channel's slot (the slot of its hash tag).
  const admin = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  try {
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    channelsByShard = new Map();
    const keys = new RedisKeys();
    for (let i = 0; i < 30; i++) {
      const channel = `chat:shard-${i}`;
      const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', keys.meta(channel)));
      const port = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
      channelsByShard.set(port, [...(channelsByShard.get(port) ?? []), channel]);
    }
  } finally {
    admin.disconnect();
  }
}, 300_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.kill()));
  await cluster?.stop();
});

const connect = (node: GatewayProcess, user: string) => connectAuthed(node.wsUrl, user);
const messages = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);
const publishMany = (c: RawClient, channel: string, count: number, tag: string) =>
  Promise.all(Array.from({ length: count }, (_, i) => c.request({ type: 'publish', id: `${tag}-${i}`, channel, data: { tag, i } }, 20_000)));

describe('two gateways on a 3-primary Redis Cluster', () => {
  it('delivers in order across nodes on channels of every shard', async () => {
    expect(channelsByShard.size).toBe(3);
    // Two channels per shard.
    const channels = [...channelsByShard.values()].flatMap((list) => list.slice(0, 2));
    const sub = await connect(nodes[1]!, 'bob');
    for (const ch of channels) expect((await sub.request({ type: 'subscribe', channel: ch })).type).toBe('ack');
    expect((await sub.request({ type: 'subscribe', channel: 'live:no-history' })).type).toBe('ack');
    const pubA = await connect(nodes[0]!, 'alice');
    const pubB = await connect(nodes[1]!, 'carol');
    // Publishers on both nodes interleave on every channel: every channel's offsets run 1…40.
    await Promise.all(channels.flatMap((ch) => [publishMany(pubA, ch, 20, `a-${ch}`), publishMany(pubB, ch, 20, `b-${ch}`)]));
    await publishMany(pubA, 'live:no-history', 20, 'live');
    await waitFor(() => channels.every((ch) => messages(sub, ch).length === 40) && messages(sub, 'live:no-history').length === 20, 30_000, 'every publication');
    for (const ch of channels) {
      expect(messages(sub, ch).map((m) => m.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      // One publisher's publications keep their order.
      expect(messages(sub, ch).filter((m) => m.data.tag === `a-${ch}`).map((m) => m.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
    expect(messages(sub, 'live:no-history').map((m) => m.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const c of [sub, pubA, pubB]) c.close();
  });

  it('recovers on the other node, resumes the session there, and dedups ids cluster-wide', async () => {
    const channel = [...channelsByShard.values()][2]![2]!;
    const a = await connect(nodes[0]!, 'erin');
    const session = a.frames.find((f) => f.type === 'auth_success').session;
    const sub = await a.request({ type: 'subscribe', channel });
    const pub = await connect(nodes[1]!, 'frank');
    await publishMany(pub, channel, 5, 'before');
    await waitFor(() => messages(a, channel).length === 5, 20_000);
    const last = messages(a, channel).at(-1);
    a.close();
    await publishMany(pub, channel, 7, 'missed');
    const b = new RawClient(`${nodes[1]!.wsUrl}?token=${await token('erin')}&session=${session}`);
    expect(await b.next((f) => f.type === 'auth_success', 20_000)).toMatchObject({ resumed: true, session });
    const ack = await b.request({ type: 'subscribe', channel, since: { epoch: last.epoch, offset: last.offset } }, 20_000);
    expect(ack.recovered).toBe(true);
    expect(ack.publications.map((p: any) => p.offset)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // The same publisher's retry on the other node is the duplicate (ids are scoped per publisher).
    const first = await b.request({ type: 'publish', id: 'dedup-1', channel, data: 1 }, 20_000);
    b.close();
    const b2 = await connect(nodes[0]!, 'erin');
    const again = await b2.request({ type: 'publish', id: 'dedup-1', channel, data: 1 }, 20_000);
    b2.close();
    expect(again).toMatchObject({ type: 'ack', duplicate: true, offset: first.offset, epoch: first.epoch });
    for (const c of [b, pub]) c.close();
  });

  it('kicks the older login of a user on the other node (SSO) and shares presence across nodes', async () => {
    const first = await connect(nodes[0]!, 'lena');
    const second = await connect(nodes[1]!, 'lena');
    expect(second.frames.at(-1).type).toBe('auth_success');
    expect(await first.waitClose(20_000)).toBe(3504);
    expect(second.closeCode).toBeUndefined();
    const m = await connect(nodes[0]!, 'mona');
    const n = await connect(nodes[1]!, 'nick');
    await m.request({ type: 'subscribe', channel: 'room:r1' }, 20_000);
    await n.request({ type: 'subscribe', channel: 'room:r1' }, 20_000);
    await m.next((f) => f.type === 'join' && f.user === 'nick', 20_000);
    const p = await second.request({ type: 'presence', channel: 'room:r1' }, 20_000);
    expect(Object.keys(p.presence).sort()).toEqual(['mona', 'nick']);
    for (const c of [second, m, n]) c.close();
  });

  it('loses no acknowledged publication when a gateway is killed with SIGKILL mid-stream', async () => {
    const [victim, survivor] = nodes as [GatewayProcess, GatewayProcess];
    const channel = [...channelsByShard.values()][1]![3]!;
    const sub = await connect(victim, 'gina');
    const first = await sub.request({ type: 'subscribe', channel });
    const pubOnVictim = await connect(victim, 'hank');
    const pubElsewhere = await connect(survivor, 'ivan');
    const acked = new Set<string>();
    let stop = false;
    const stream = async (c: RawClient, tag: string) => {
      for (let i = 0; !stop && c.closeCode === undefined; i++) {
        const r = await c.request({ type: 'publish', id: `${tag}-${i}`, channel, data: `${tag}-${i}` }, 20_000).catch(() => undefined);
        if (r?.type === 'ack') acked.add(`${tag}-${i}`);
      }
    };
    const streams = [stream(pubOnVictim, 'v'), stream(pubElsewhere, 'e')];
    await waitFor(() => acked.size >= 40, 30_000);
    await victim.kill();
    await sub.waitClose(20_000);
    const seen = messages(sub, channel);
    const ackedBefore = acked.size;
    await waitFor(() => acked.size >= ackedBefore + 30, 30_000);
    stop = true;
    await Promise.all(streams);
    const again = await connect(survivor, 'gina');
    const since = seen.length ? { epoch: seen.at(-1).epoch, offset: seen.at(-1).offset } : { epoch: first.epoch, offset: first.offset };
    const ack = await again.request({ type: 'subscribe', channel, since }, 20_000);
    expect(ack.recovered).toBe(true);
    const all = [...seen, ...ack.publications];
    const data = all.map((p: any) => p.data);
    expect(new Set(data).size).toBe(data.length);
    for (const id of acked) expect(data).toContain(id);
    expect(all.map((p: any) => p.offset)).toEqual(Array.from({ length: all.length }, (_, i) => first.offset + i + 1));
    for (const c of [again, pubElsewhere]) c.close();
    await victim.restart();
  });
});
