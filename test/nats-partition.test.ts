import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNetwork, type TestNetwork } from './support/netns.ts';
import { startNatsCluster, type NatsCluster } from './support/nats.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { sleep, waitFor } from './support/ports.ts';
import { apiCaller, fullHistory, httpPublisher, type ApiAnswer, type Publisher } from './support/retrying-publishers.ts';
import { SECRET } from '../packages/server/test/helpers.ts';
import { mintToken } from '../packages/server/src/auth/mint.ts';
import { Switchboard } from '@switchboard/client';
import { NatsNames } from '../packages/server/src/nats/names.ts';

/**
 * Crashes and partitions under two gateways on a 3-node NATS JetStream cluster (streams
 * replicated 3 times), in network namespaces made by the test: every NATS server and every
 * gateway on a host of its own, links cut with blackhole routes. Two HTTP publishers, one per
 * gateway, each retry every publication with its idempotency key until acknowledged, while:
 *
 * 1. a NATS server is killed with SIGKILL (and started again);
 * 2. the leader of the stream the channels live in is killed with SIGKILL (and started again);
 * 3. a gateway is killed with SIGKILL (and started again);
 * 4. the stream leader is cut off from the other NATS servers (a minority of one);
 * 5. the partition changes shape while the cluster elects: the new leader is cut off, the
 *    old one's links heal, then everything heals;
 * 6. a link between two NATS servers flaps.
 *
 * Afterwards every acknowledged publication is in history exactly once, in order, at the
 * offset and in the epoch its acknowledgement named (one epoch throughout: nothing was ever
 * continued from a discarded branch), and a subscriber on each gateway (the real client,
 * reconnecting and recovering by itself) received every one, once, in order, never told it
 * missed any. The same shapes lose acknowledged publications on
 * Redis Sentinel (redis-sentinel-partition.test.ts, docs/scaling.md).
 */
const API_KEY = 'nats-partition-api-key-0123456789';
const NATS = ['n1', 'n2', 'n3'] as const;
const GATEWAYS = ['g1', 'g2'] as const;
const CHANNELS = ['chat:p1', 'chat:p2'];

let net: TestNetwork;
let dir: string;
let nats: NatsCluster;
const gws: GatewayProcess[] = [];
const ipOf = (name: string) => net.hosts[name]!.ip;

beforeAll(async () => {
  net = createTestNetwork([...NATS, ...GATEWAYS]);
  dir = mkdtempSync(join(tmpdir(), 'sb-nats-partition-'));
  nats = await startNatsCluster({ hosts: NATS.map(ipOf), wraps: NATS.map((n) => net.hosts[n]!.wrap) });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ namespaces: { '': {}, chat: { history: { size: 100_000, ttl: '1h' }, allowSubscribe: true } } }));
  const urls = nats.url.split(',');
  for (const [i, g] of GATEWAYS.entries()) {
    gws.push(await startGatewayProcess({
      host: ipOf(g), wrap: net.hosts[g]!.wrap, startTimeoutMs: 150_000,
      // Each gateway's first server is another NATS server.
      args: ['--config', join(dir, 'config.json'), '--nats', [...urls.slice(i), ...urls.slice(0, i)].join(','), '--jwt-secret', SECRET, '--api-key', API_KEY],
    }));
  }
}, 300_000);

afterAll(async () => {
  await Promise.all(gws.map((g) => g.kill()));
  await nats?.stop();
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The NATS server leading the history stream of `channel`, as the servers `via` (default:
 * all; during a partition, those of the majority) name it.
 */
async function leaderOf(channel: string, via: readonly string[] = NATS): Promise<(typeof NATS)[number]> {
  const names = new NatsNames('sb');
  return waitFor(async () => {
    const c = await connect({ servers: via.map((n) => nats.nodes[NATS.indexOf(n as never)]!.url), reconnect: false, timeout: 2000 });
    try {
      const jsm = await jetstreamManager(c, { timeout: 3000 });
      const leader = (await jsm.streams.info(names.historyStream(names.shardOf(channel)))).cluster?.leader;
      return NATS.find((n) => n === leader);
    } finally {
      await c.close();
    }
  }, 60_000, `a leader for ${channel}'s stream`);
}

describe('two gateways on a 3-node JetStream cluster under crashes and partitions', () => {
  it('every acknowledged publication is in history exactly once, in order, in one epoch', async () => {
    const apis: Array<(method: string, body: unknown) => Promise<ApiAnswer>> = gws.map((g) => apiCaller(g.url, API_KEY));
    const readers = await Promise.all(gws.map(async (g, i) => {
      const client = new Switchboard(g.wsUrl, { token: await mintToken({ sub: `reader-${i}`, secret: SECRET, ttlSec: 3600 }), reconnect: { minDelayMs: 50, maxDelayMs: 1000 } });
      const subs = await Promise.all(CHANNELS.map(async (ch) => {
        const sub = client.subscribe(ch);
        const got: number[] = [];
        const gaps: unknown[] = [];
        sub.on('message', (m) => got.push((m.data as { n: number }).n));
        sub.on('gap', (gap) => gaps.push(gap));
        await sub.ready();
        return { got, gaps };
      }));
      return { client, subs };
    }));
    const pubs: Publisher[] = CHANNELS.map((ch, i) => httpPublisher(apis[i]!, ch));
    /**
     * Waits until every publisher (`some`: one of them) has `count` more acknowledgements. A
     * gateway whose NATS server is cut off in a minority refuses publications (temporary
     * errors) until the partition heals: its publisher waits.
     */
    const more = async (count: number, what: string, some = false) => {
      const targets = pubs.map((p) => p.acks.length + count);
      const reached = (p: Publisher, i: number) => p.acks.length >= targets[i]!;
      await waitFor(() => (some ? pubs.some(reached) : pubs.every(reached)), 120_000, what).catch((err: Error) => {
        throw new Error(`${err.message}: ${pubs.map((p) => `${p.acks.length} acks, last refusals ${JSON.stringify(p.refusals.slice(-2))}`).join('; ')}\n${gws.map((g) => g.output().slice(-1500)).join('\n')}`);
      });
    };
    const node = (name: string) => nats.nodes[NATS.indexOf(name as never)]!;
    await more(20, 'publications before anything breaks');

    // 1. A NATS server (not the leader) is killed and comes back.
    const l1 = await leaderOf(CHANNELS[0]!);
    const other = NATS.find((n) => n !== l1)!;
    await node(other).kill();
    await more(20, 'publications with a NATS server down');
    await node(other).restart();

    // 2. The stream leader is killed and comes back.
    const l2 = await leaderOf(CHANNELS[0]!);
    await node(l2).kill();
    await more(20, 'publications after the stream leader was killed');
    await node(l2).restart();
    await more(10, 'publications with every server back');

    // 3. A gateway is killed mid-stream and comes back (its publisher retries meanwhile).
    await gws[1]!.kill();
    await sleep(200);
    await gws[1]!.restart();
    await more(20, 'publications after a gateway was killed');

    // 4. The stream leader is cut off from the other NATS servers: a minority of one.
    const l4 = await leaderOf(CHANNELS[0]!);
    for (const n of NATS) if (n !== l4) net.cut(l4, n);
    const majority4 = NATS.filter((n) => n !== l4);
    await waitFor(async () => (await leaderOf(CHANNELS[0]!, majority4)) !== l4, 60_000, 'a new leader in the majority');
    // 5. While the cluster settles, the shape changes: the new leader is cut off, the old one rejoins.
    const l5 = await leaderOf(CHANNELS[0]!, majority4);
    for (const n of NATS) if (n !== l5) net.cut(l5, n);
    for (const n of NATS) if (n !== l4 && n !== l5) net.heal(l4, n);
    await more(10, 'publications with the partition changed shape', true);
    for (const n of NATS) if (n !== l5) net.heal(l5, n);
    for (const n of NATS) if (n !== l4) net.heal(l4, n);
    await more(10, 'publications once every link healed');

    // 6. A link between two NATS servers flaps.
    const [a, b] = [NATS[0], NATS[1]];
    for (let i = 0; i < 6; i++) {
      net.cut(a, b);
      await sleep(300);
      net.heal(a, b);
      await sleep(300);
    }
    await more(10, 'publications after a flapping link');
    await Promise.all(pubs.map((p) => p.stop()));

    // Every acknowledged publication, exactly once, in order, at its offset, in one epoch.
    let total = 0;
    for (const [i, pub] of pubs.entries()) {
      const epoch = pub.acks[0]!.epoch;
      expect(new Set(pub.acks.map((x) => x.epoch))).toEqual(new Set([epoch]));
      expect(pub.acks.map((x) => x.offset)).toEqual(pub.acks.map((_, k) => k + 1));
      const stored = await fullHistory(apis[0]!, CHANNELS[i]!, epoch);
      expect(stored.map((p) => (p.data as { n: number }).n)).toEqual(pub.acks.map((_, n) => n));
      expect(stored.map((p) => [p.offset, p.epoch])).toEqual(pub.acks.map((x) => [x.offset, x.epoch]));
      total += pub.acks.length;
    }
    // Every subscriber got every acknowledged publication once, in order, never told of a gap.
    for (const r of readers) {
      for (const [i, sub] of r.subs.entries()) {
        await waitFor(() => sub.got.length >= pubs[i]!.acks.length, 60_000, `every publication of ${CHANNELS[i]} at a subscriber (${sub.got.length}/${pubs[i]!.acks.length})`);
        expect(sub.gaps).toEqual([]);
        expect(sub.got).toEqual(pubs[i]!.acks.map((_, n) => n));
      }
      r.client.close();
    }
    console.log(`nats partition: ${total} acknowledged, 0 lost, 0 duplicated; refusals retried: ${pubs.map((p) => p.refusals.length).join(' + ')}`);
  }, 600_000);
});
