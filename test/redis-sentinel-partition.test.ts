import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNetwork, type TestNetwork } from './support/netns.ts';
import { ask, baseArgs, requireRedis, startRedisNode, type RedisNodeProcess } from './support/redis-node.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { apiCaller, fullHistory, httpPublisher, type ApiAnswer } from './support/retrying-publishers.ts';
import { SECRET } from '../packages/server/test/helpers.ts';

/**
 * Partitions during a Sentinel failover, in network namespaces made by the test: a primary,
 * two replicas, three sentinels (quorum 2) and a gateway (`redisWaitReplicas: 1`), each on a
 * host of its own, links cut with blackhole routes. An HTTP publisher retries each
 * publication with its idempotency key until acknowledged.
 *
 * 1. The primary is cut off from its replicas and the sentinels, not from the gateway: the
 *    sentinels promote a replica; the gateway's writes to the old primary are not replicated
 *    (`WAIT` falls short), so it asks the sentinels again and moves to the promoted one.
 * 2. The partition changes shape: the promoted replica is cut off, the old primary's links
 *    healed. The sentinels fail over again; then every link heals and one branch wins.
 *
 * Redis cannot promise acknowledged-no-loss under partitions (docs/guarantees.md); what it
 * must never do is continue a client from another timeline. For every acknowledged
 * publication: either the final history holds it at its offset, or recovering from its
 * position is refused (`410 unrecoverable_position`, the API's `recovered: false`).
 */
const API_KEY = 'sentinel-partition-api-key-0123456789';
const MASTER = 'sbmaster';
const NAMES = ['p', 'r1', 'r2', 's1', 's2', 's3', 'gw'] as const;
const REDIS = ['p', 'r1', 'r2'] as const;
const SENTINELS = ['s1', 's2', 's3'] as const;

let net: TestNetwork;
let dir: string;
const redis = new Map<string, RedisNodeProcess>();
const sentinels: RedisNodeProcess[] = [];
let gw: GatewayProcess;
let api: (method: string, body: unknown) => Promise<ApiAnswer>;
const ipOf = (name: string) => net.hosts[name]!.ip;

/** The primary's host as the sentinels reachable from here name it (the highest config epoch). */
async function namedPrimary(): Promise<string | undefined> {
  let best: { epoch: number; host: string } | undefined;
  for (const s of SENTINELS) {
    const fields = await ask(26379, (r) => r.call('SENTINEL', 'MASTER', MASTER) as Promise<string[]>, ipOf(s)).catch(() => undefined);
    if (!fields) continue;
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    const epoch = Number(f.get('config-epoch'));
    if (!best || epoch > best.epoch) best = { epoch, host: f.get('ip')! };
  }
  return NAMES.find((n) => best && ipOf(n) === best.host);
}

beforeAll(async () => {
  requireRedis();
  net = createTestNetwork([...NAMES]);
  dir = mkdtempSync(join(tmpdir(), 'sb-partition-'));
  for (const name of REDIS) {
    const args = () => [...baseArgs(6379, dir, ipOf(name)), '--dbfilename', `dump-${name}.rdb`, ...(name === 'p' ? [] : ['--replicaof', ipOf('p'), '6379'])];
    redis.set(name, await startRedisNode(6379, args, name, { host: ipOf(name), wrap: net.hosts[name]!.wrap }));
  }
  for (const name of ['r1', 'r2']) await waitFor(async () => /master_link_status:up/.test(await ask(6379, (r) => r.info('replication'), ipOf(name))), 30_000, `${name} in sync`);
  for (const name of SENTINELS) {
    const file = join(dir, `sentinel-${name}.conf`);
    writeFileSync(file, [`port 26379`, `bind ${ipOf(name)}`, 'protected-mode no', `dir ${dir}`, `sentinel monitor ${MASTER} ${ipOf('p')} 6379 2`,
      `sentinel down-after-milliseconds ${MASTER} 1500`, `sentinel failover-timeout ${MASTER} 5000`, `sentinel parallel-syncs ${MASTER} 1`, ''].join('\n'));
    sentinels.push(await startRedisNode(26379, () => [file, '--sentinel'], name, { host: ipOf(name), wrap: net.hosts[name]!.wrap }));
  }
  await waitFor(async () => ((await ask(26379, (r) => r.call('SENTINEL', 'REPLICAS', MASTER) as Promise<unknown[]>, ipOf('s1'))).length === 2), 30_000, 'the sentinels to find the replicas');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ namespaces: { '': {}, chat: { history: { size: 100_000, ttl: '1h' } } } }));
  gw = await startGatewayProcess({
    host: ipOf('gw'), wrap: net.hosts.gw!.wrap, startTimeoutMs: 150_000,
    args: ['--config', join(dir, 'config.json'), '--redis', `redis+sentinel://${SENTINELS.map((s) => `${ipOf(s)}:26379`).join(',')}/${MASTER}`, '--jwt-secret', SECRET, '--api-key', API_KEY],
    env: { SWITCHBOARD_REDIS_WAIT_REPLICAS: '1' },
  });
  api = apiCaller(gw.url, API_KEY);
}, 300_000);

afterAll(async () => {
  await gw?.kill();
  await Promise.all([...redis.values(), ...sentinels].map((n) => n.kill()));
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('partitions during a Sentinel failover', () => {
  it('the gateway follows the sentinels when WAIT falls short, and a position on a discarded branch is never recovered', async () => {
    const channel = 'chat:partition';
    const pub = httpPublisher(api, channel);
    const more = async (count: number, what: string) => {
      const target = pub.acks.length + count;
      await waitFor(() => pub.acks.length >= target, 120_000, what).catch((err: Error) => {
        throw new Error(`${err.message}: ${pub.acks.length} acks, last refusals ${JSON.stringify(pub.refusals.slice(-2))}\n${gw.output().slice(-2000)}`);
      });
    };
    await more(20, 'publications before the partition');

    // 1. The old primary keeps only the gateway.
    for (const other of ['r1', 'r2', ...SENTINELS]) net.cut('p', other);
    await waitFor(async () => { const n = await namedPrimary(); return n === 'r1' || n === 'r2'; }, 60_000, 'the sentinels to promote a replica');
    const first = (await namedPrimary())!;
    await more(20, 'publications acknowledged on the promoted replica, the old primary still cut off');
    expect(gw.output()).toContain('the sentinels name another primary');

    // 2. The shape changes: the promoted replica is cut off, the old primary's links heal.
    for (const other of NAMES) if (other !== first) net.cut(first, other);
    for (const other of ['r1', 'r2', ...SENTINELS]) if (other !== first) net.heal('p', other);
    await waitFor(async () => { const n = await namedPrimary(); return n !== undefined && n !== first; }, 90_000, 'the sentinels to fail over again');
    await more(20, 'publications acknowledged after the second failover');
    for (const other of NAMES) if (other !== first) net.heal(first, other);
    await more(10, 'publications acknowledged once every link healed');
    await pub.stop();

    // Every acknowledged publication is in the final history at its offset, or recovering
    // from its position is refused: never a continuation from another timeline.
    const stored = await fullHistory(api, channel, pub.acks[0]!.epoch);
    let lost = 0;
    for (const [n, ack] of pub.acks.entries()) {
      const at = stored[ack.offset - 1];
      const kept = at !== undefined && at.offset === ack.offset && at.epoch === ack.epoch && (at.data as { n: number }).n === n;
      if (!kept) lost++;
      if (kept && n % 10 !== 0) continue;
      const r = await api('history', { channel, since: { epoch: ack.epoch, offset: ack.offset }, limit: 1 });
      expect(r.status, `publication ${n} at ${ack.epoch}/${ack.offset}: ${kept ? 'kept' : 'not in the final history'}`).toBe(kept ? 200 : 410);
    }
    console.log(`sentinel partition: ${pub.acks.length} acknowledged, ${lost} not in the final history (each refused as a recovery position), ${stored.length} stored`);
  }, 400_000);
});
