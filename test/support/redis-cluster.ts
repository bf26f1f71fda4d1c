import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.ts';
import { ask, baseArgs as base, freeClusterPort, requireRedis, startRedisNode as startNode, type RedisNodeProcess } from './redis-node.ts';

export { type RedisNodeProcess } from './redis-node.ts';

export interface RedisClusterProcess {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every primary as a seed). */
  url: string;
  /** Every node, primaries first (in creation order, before any failover). */
  nodes: RedisNodeProcess[];
  /** The live nodes that hold slots now (roles change with failovers). */
  primaries(): Promise<RedisNodeProcess[]>;
  /** The node whose slots include `key`'s now. */
  primaryOf(key: string): Promise<RedisNodeProcess>;
  /**
   * Resolves once every live node reports `cluster_state:ok`, every slot is served by a live
   * primary, and (with `replicas`) every primary has that many replicas in sync: after a
   * failover, the state in which the next one can happen.
   */
  settled(o?: { replicas?: number; timeoutMs?: number }): Promise<void>;
  /** SIGKILLs every node and removes their files. */
  stop(): Promise<void>;
}

export interface RedisSentinelProcess {
  /** `redis+sentinel://127.0.0.1:s1,…/<master>`. */
  url: string;
  master: string;
  primary: RedisNodeProcess;
  replicas: RedisNodeProcess[];
  sentinels: RedisNodeProcess[];
  /** The port of the primary as the sentinels currently report it. */
  primaryPort(): Promise<number>;
  /**
   * Resolves once no failover is in progress and a replica in sync with the current primary
   * could be promoted, as every sentinel sees it: the state `SENTINEL FAILOVER` needs
   * (earlier it answers `INPROG` or `NOGOODSLAVE`). The primary's address switches before
   * the sentinel has finished re-pointing the replicas, so a changed `primaryPort()` alone
   * does not mean the failover is over.
   */
  settled(): Promise<void>;
  /**
   * Asks a sentinel for a planned failover (`SENTINEL FAILOVER`) once `settled()`, asking
   * again while it answers `INPROG` or `NOGOODSLAVE` (a sentinel's view of a replica can lag
   * its `settled()` state by one INFO round); resolves when one was accepted.
   */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

/**
 * Starts a real Redis Cluster of `primaries` primaries, each with `replicas` replicas
 * (default none), on free loopback ports, each with its bus port free, and waits until
 * every node reports `cluster_state:ok` (and the replicas are in sync). Slots are spread
 * evenly by `redis-cli --cluster create`. A primary that dies (`kill`) is replaced by its
 * replica after `cluster-node-timeout` (3 s) and an election; a killed node that is
 * restarted rejoins as a replica of whoever took its slots.
 */
export async function startRedisCluster(primaries = 3, o: { replicas?: number } = {}): Promise<RedisClusterProcess> {
  requireRedis();
  const replicas = o.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  const live = () => nodes.filter((n) => n.alive());
  /** CLUSTER SLOTS from the first live node that answers. */
  const slots = async (): Promise<SlotRange[]> => {
    let last: unknown;
    for (const n of live()) {
      try {
        return (await ask(n.port, (r) => r.call('CLUSTER', 'SLOTS'))) as SlotRange[];
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no cluster node answers CLUSTER SLOTS: ${(last as Error | undefined)?.message}`);
  };
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node on port ${port}`);
    return node;
  };
  const settled = (s: { replicas?: number; timeoutMs?: number } = {}) => waitFor(async () => {
    for (const n of live()) {
      if (!/cluster_state:ok/.test(await ask(n.port, (r) => r.cluster('INFO')))) return false;
    }
    const ranges = await slots();
    const covered = ranges.reduce((sum, [lo, hi]) => sum + hi - lo + 1, 0);
    if (covered !== 16_384) return false;
    const owners = new Set(ranges.map((r) => r[2][1]));
    for (const port of owners) {
      const node = byPort(port);
      if (!node.alive()) return false;
      const info = await ask(port, (r) => r.info('replication'));
      if (!/role:master/.test(info)) return false;
      const online = info.match(/^slave\d+:.*state=online/gm)?.length ?? 0;
      if (online < (s.replicas ?? 0)) return false;
    }
    return true;
  }, s.timeoutMs ?? 120_000, 'the Redis Cluster to settle (every slot on a live primary)').then(() => undefined);
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = await freeClusterPort();
      nodes.push(await startNode(port, () => [
        ...base(port, dir), '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '3000',
        // A replica may always take over, however long its link to the primary was down.
        '--cluster-replica-validity-factor', '0',
      ], 'cluster node'));
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await settled({ replicas });
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryNodes = nodes.slice(0, primaries);
  return {
    url: `redis+cluster://${primaryNodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    async primaries() {
      return [...new Set((await slots()).map((r) => r[2][1]))].map(byPort);
    },
    async primaryOf(key) {
      const any = live()[0];
      if (!any) throw new Error('no live cluster node');
      const slot = Number(await ask(any.port, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
      const range = (await slots()).find(([lo, hi]) => slot >= lo && slot <= hi);
      if (!range) throw new Error(`slot ${slot} is not served`);
      return byPort(range[2][1]);
    },
    settled,
    stop,
  };
}

/**
 * Starts a primary, `replicaCount` replicas (default 1) and `sentinelCount` sentinels
 * watching them (quorum 1, down after 1.5 s), on free loopback ports. Killing the primary
 * makes the sentinels promote a replica within a few seconds (and re-point the others).
 */
export async function startRedisSentinel(o: { master?: string; sentinelCount?: number; replicaCount?: number } = {}): Promise<RedisSentinelProcess> {
  requireRedis();
  const master = o.master ?? 'sbmaster';
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-sentinel-'));
  const started: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primaryPort = await freePort();
    const primary = await startNode(primaryPort, () => base(primaryPort, dir), 'primary');
    started.push(primary);
    const replicas: RedisNodeProcess[] = [];
    for (let i = 0; i < (o.replicaCount ?? 1); i++) {
      const replicaPort = await freePort();
      const replica = await startNode(replicaPort, () => [...base(replicaPort, dir), '--replicaof', '127.0.0.1', String(primaryPort)], 'replica');
      started.push(replica);
      replicas.push(replica);
      await waitFor(async () => /master_link_status:up/.test(await ask(replicaPort, (r) => r.info('replication'))), 30_000, 'replica in sync');
    }
    const sentinels: RedisNodeProcess[] = [];
    for (let i = 0; i < (o.sentinelCount ?? 1); i++) {
      const port = await freePort();
      const file = join(dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its configuration file: one file per sentinel, written once (a
      // restart keeps what it learnt).
      writeFileSync(file, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${primaryPort} 1`,
        // Short, so a failover test takes seconds: down after 1.5 s without an answer (long
        // enough not to fail over a primary that a loaded machine answers late), and a
        // failover that stalls is retried (and the replicas re-pointed) after 5 s.
        `sentinel down-after-milliseconds ${master} 1500`,
        `sentinel failover-timeout ${master} 5000`,
        `sentinel parallel-syncs ${master} 1`, '',
      ].join('\n'));
      const s = await startNode(port, () => [file, '--sentinel'], 'sentinel');
      started.push(s);
      sentinels.push(s);
    }
    const primaryPortNow = async () => {
      const addr = await ask(sentinels[0]!.port, (r) => r.call('SENTINEL', 'get-master-addr-by-name', master) as Promise<[string, string]>);
      return Number(addr[1]);
    };
    // The sentinel has found the replica (it can fail over) before the test starts.
    await waitFor(async () => {
      const found = await ask(sentinels[0]!.port, (r) => r.call('SENTINEL', 'replicas', master) as Promise<unknown[]>);
      return found.length >= replicas.length;
    }, 30_000, 'sentinel to discover the replicas');
    /** `SENTINEL MASTER`/`REPLICAS` answer flat [key, value, …] lists. */
    const fields = (flat: unknown[]) => {
      const out = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) out.set(String(flat[i]), String(flat[i + 1]));
      return out;
    };
    const settled = async () => { await waitFor(async () => {
      for (const s of sentinels) {
        const state = await ask(s.port, async (r) => ({
          primary: fields(await r.call('SENTINEL', 'master', master) as unknown[]),
          replicas: (await r.call('SENTINEL', 'replicas', master) as unknown[][]).map(fields),
        }));
        if (state.primary.get('flags') !== 'master') return false;
        const port = state.primary.get('port');
        const ready = state.replicas.some((x) => x.get('flags') === 'slave' && x.get('master-link-status') === 'ok' && x.get('master-port') === port);
        if (!ready) return false;
      }
      return true;
    }, 120_000, 'the sentinels to finish the failover and see a replica in sync'); };
    const failover = async () => {
      await settled();
      let refused = '';
      await waitFor(async () => {
        try {
          await ask(sentinels[0]!.port, (r) => r.call('SENTINEL', 'FAILOVER', master));
          return true;
        } catch (err) {
          refused = (err as Error).message;
          if (/^(INPROG|NOGOODSLAVE)/.test(refused)) return false;
          throw err;
        }
      }, 120_000, 'a sentinel to accept SENTINEL FAILOVER').catch((err: Error) => { throw new Error(`${err.message} (last answer: ${refused})`); });
    };
    return {
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${master}`,
      master, primary, replicas, sentinels, primaryPort: primaryPortNow, settled, failover, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
