import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import { startRedisCluster, type RedisClusterProcess, type RedisNodeProcess } from './support/redis-cluster.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { sleep, waitFor } from './support/ports.ts';
import { apiCaller, fullHistory, httpPublisher, wsPublisher, type ApiAnswer, type Publisher } from './support/retrying-publishers.ts';
import { SECRET, token } from '../packages/server/test/helpers.ts';
import { RedisKeys } from '../packages/server/src/redis/keys.ts';
import { closeClients, makeClient } from '../packages/client/test/helpers.ts';
import type { Switchboard } from '../packages/client/src/index.ts';

/**
 * Redis Cluster failover under publish load: a real 3-primary + 3-replica cluster, two real
 * gateway processes (node 0 with `redisWaitReplicas` 0, node 1 with 1), on each an HTTP and
 * a WebSocket publisher retrying with the same idempotency key until acknowledged, and on
 * each an SDK subscriber to the other node's channels. A primary is killed with SIGKILL
 * (twice, on different shards); its replica is promoted by the cluster. Every gateway must
 * serve the shard again without a restart and without the dead node coming back (with
 * `redisWaitReplicas` 1 the promoted primary needs a replica: the dead node rejoins as one),
 * nothing acknowledged may be lost or doubled, and the log must stay short.
 */
const API_KEY = 'cluster-failover-api-key-0123456789';
const CONFIG = {
  namespaces: { '': {}, chat: { history: { size: 100_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
  shutdown: { reconnectSpreadMs: 0 },
};

let cluster: RedisClusterProcess;
let gws: GatewayProcess[];
let apis: Array<(method: string, body: unknown) => Promise<ApiAnswer>>;

beforeAll(async () => {
  cluster = await startRedisCluster(3, { replicas: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'sb-cluster-failover-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  const args = ['--config', join(dir, 'config.json'), '--redis', cluster.url, '--jwt-secret', SECRET, '--api-key', API_KEY];
  gws = await Promise.all([0, 1].map((wait) => startGatewayProcess({ args, env: { SWITCHBOARD_REDIS_WAIT_REPLICAS: String(wait) }, startTimeoutMs: 150_000 })));
  apis = gws.map((g) => apiCaller(g.url, API_KEY));
}, 300_000);

afterAll(async () => {
  closeClients();
  await Promise.all((gws ?? []).map((g) => g.kill()));
  await cluster?.stop();
});

/** `count` channel names whose slot the primary `node` serves now. */
async function channelsOn(node: RedisNodeProcess, tag: string, count: number): Promise<string[]> {
  const keys = new RedisKeys();
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i > 500) throw new Error(`no channels found on ${node.port}`);
    const channel = `chat:${tag}-${i}`;
    if ((await cluster.primaryOf(keys.meta(channel))) === node) out.push(channel);
  }
  return out;
}

/** Warn and error lines a gateway wrote (pino levels 40 and 50). */
const warnLines = (g: GatewayProcess) => g.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l));

/** An SDK client on `node` subscribed to `channels`, recording what arrives and how often it was sent away. */
async function subscriber(node: GatewayProcess, channels: string[], user: string) {
  const client: Switchboard = makeClient(node.wsUrl, { token: await token(user), connectTimeoutMs: 10_000 });
  const received = new Map(channels.map((c) => [c, [] as Publication[]]));
  const events: string[] = [];
  const log = events.push.bind(events);
  events.push = (...e: string[]) => log(...e.map((x) => `${Date.now() % 100_000} ${x}`));
  let reconnectsAsked = 0;
  client.on('disconnected', (e) => {
    events.push(`disconnected ${e.code} ${e.reason}`);
    if (e.code === 3000) reconnectsAsked++;
  });
  const subs = channels.map((ch) => {
    const s = client.subscribe(ch);
    s.on('message', (m) => received.get(ch)!.push(m));
    s.on('gap', (e) => events.push(`${ch} gap ${JSON.stringify(e)}`));
    s.on('error', (e) => events.push(`${ch} error ${e.error.message}`));
    s.on("state", (e) => events.push(`${ch} ${e.state} pos=${s.position?.offset}`));
    s.on('subscribed', (e) => events.push(`${ch} subscribed ${e.offset} resubscribed=${e.resubscribed}`));
    s.on('recovered', (e) => events.push(`${ch} recovered ${e.count}`));
    return s;
  });
  await Promise.all(subs.map((s) => s.ready()));
  return { received, events, reconnectsAsked: () => reconnectsAsked, close: () => client.close() };
}

/** Polls `/readyz` of every gateway until stopped: each answer's status, in order. */
function watchReadiness() {
  const seen: number[][] = gws.map(() => []);
  let stopped = false;
  const loops = gws.map(async (g, i) => {
    while (!stopped) {
      const r = await fetch(`${g.url}/readyz`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      if (r) seen[i]!.push(r.status);
      await sleep(100);
    }
  });
  return { seen, stop: async () => { stopped = true; await Promise.all(loops); } };
}

interface Round {
  channels: string[];
  publishers: Publisher[];
  /** Which gateway each publisher uses. */
  on: number[];
}

describe('Redis Cluster failover (3 primaries, 3 replicas)', () => {
  it('kill -9 of a primary, twice on different shards: every gateway serves the shard again, nothing acknowledged lost or doubled, the log bounded', async () => {
    const [first, second] = await cluster.primaries();
    const rounds: Round[] = [];
    const subscribers: Array<Awaited<ReturnType<typeof subscriber>>> = [];
    const timings: string[] = [];
    for (const [k, victim] of [first!, second!].entries()) {
      if (k > 0) await cluster.settled({ replicas: 1 });
      // Node 0 (no WAIT) and node 1 (WAIT 1) each publish over HTTP and WebSocket to a
      // channel of the victim's shard; each node's SDK subscriber follows the other's channels.
      const channels = await channelsOn(victim, `r${k}`, 4);
      const on = [0, 0, 1, 1];
      subscribers.push(await subscriber(gws[1]!, channels.slice(0, 2), `sub-${k}-1`), await subscriber(gws[0]!, channels.slice(2), `sub-${k}-0`));
      const publishers = [
        httpPublisher(apis[0]!, channels[0]!), wsPublisher(gws[0]!.wsUrl, channels[1]!, `ws-${k}-0`),
        httpPublisher(apis[1]!, channels[2]!), wsPublisher(gws[1]!.wsUrl, channels[3]!, `ws-${k}-1`),
      ];
      rounds.push({ channels, publishers, on });
      await waitFor(() => publishers.every((p) => p.acks.length >= 20), 60_000, 'publications before the kill');

      const before = publishers.map((p) => p.acks.length);
      const readiness = watchReadiness();
      const killedAt = Date.now();
      await victim.kill();
      // Node 0 (no WAIT) is acknowledged again on the promoted replica, the dead node still dead.
      const back = (ps: Publisher[], floor: number[]) => waitFor(() => ps.every((p, i) => p.acks.length >= floor[i]! + 20), 90_000, 'publications acknowledged after the failover').catch((err: Error) => {
        throw new Error(`${err.message}: ${publishers.map((p) => `${p.acks.length} acks, last refusals ${JSON.stringify(p.refusals.slice(-2))}`).join('; ')}\ngateway 0: ${gws[0]!.output().slice(-1500)}\ngateway 1: ${gws[1]!.output().slice(-1500)}`);
      });
      await back(publishers.slice(0, 2), before.slice(0, 2));
      expect(victim.alive()).toBe(false);
      // Back: the first acknowledgement after the first refusal that followed the kill.
      const backAt = Math.max(...publishers.slice(0, 2).map((p) => {
        const refused = p.refusedAt.find((t) => t >= killedAt) ?? killedAt;
        return p.ackedAt.find((t) => t > refused)!;
      }));
      timings.push(`kill ${k + 1}: node 0 publishing again ${backAt - killedAt} ms after the kill`);
      expect(backAt - killedAt).toBeLessThan(20_000);
      // Node 1 (WAIT 1) needs a replica of the promoted primary: the dead node rejoins as one.
      await victim.restart();
      await cluster.settled({ replicas: 1 });
      await back(publishers.slice(2), before.slice(2));
      // Not ready while the shard had no reachable primary; ready again after.
      await waitFor(async () => (await Promise.all(gws.map((g) => fetch(`${g.url}/readyz`)))).every((r) => r.status === 200), 30_000, 'both gateways ready');
      await readiness.stop();
      for (const seen of readiness.seen) expect(seen, `readyz answers: ${seen.join(',')}`).toContain(503);
    }
    await Promise.all(rounds.flatMap((r) => r.publishers.map((p) => p.stop())));
    console.log(`cluster failover: ${timings.join('; ')}; warn lines: ${gws.map((g) => warnLines(g).length).join(', ')}; refusals: ${rounds.map((r) => r.publishers.map((p) => p.refusals.length).join('/')).join(', ')}`);

    for (const [k, r] of rounds.entries()) {
      for (const [i, pub] of r.publishers.entries()) {
        const channel = r.channels[i]!;
        const epoch = pub.acks[0]!.epoch;
        const stored = await fullHistory(apis[r.on[i]!]!, channel, epoch);
        const diag = `${channel}: stored ${stored.length}, acks ${pub.acks.length}, refusals ${JSON.stringify([...new Set(pub.refusals.map((x) => JSON.stringify(x)))])}`;
        // Every acknowledged publication is there once, at the offset its ack gave, in order.
        expect(pub.acks.map((a) => a.epoch), diag).toEqual(stored.map((p) => p.epoch));
        expect(stored.map((p) => p.offset), diag).toEqual(pub.acks.map((_, n) => n + 1));
        expect(stored.map((p) => (p.data as { n: number }).n), diag).toEqual(pub.acks.map((_, n) => n));
        expect(pub.acks.map((a) => a.offset), diag).toEqual(pub.acks.map((_, n) => n + 1));
        // The subscriber on the other node received all of them once, in order.
        const sub = subscribers[2 * k + (i < 2 ? 0 : 1)]!;
        await waitFor(() => sub.received.get(channel)!.length >= stored.length, 60_000, `the subscriber to receive ${channel}`).catch((err: Error) => {
          const got = new Set(sub.received.get(channel)!.map((p) => p.offset));
          throw new Error(`${err.message}: received ${got.size} of ${stored.length}, missing ${JSON.stringify(stored.filter((p) => !got.has(p.offset)).map((p) => p.offset).slice(0, 20))}; ${sub.events.join('; ')}\ngateway 0: ${gws[0]!.output().slice(-3000)}\ngateway 1: ${gws[1]!.output().slice(-3000)}`);
        });
        expect(sub.received.get(channel)!.map((p) => p.offset), diag).toEqual(stored.map((p) => p.offset));
      }
    }
    // The log stays short: not one line per failed command, no lost/back flapping; clients
    // are asked to reconnect at most once per failover.
    for (const g of gws) expect(warnLines(g).length, warnLines(g).slice(0, 40).join('\n')).toBeLessThan(100);
    for (const s of subscribers) expect(s.reconnectsAsked(), s.events.join('; ')).toBeLessThanOrEqual(2);
  }, 600_000);
});
