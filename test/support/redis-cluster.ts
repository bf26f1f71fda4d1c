import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.ts';

/** One `redis-server` process of a cluster or a Sentinel group. */
export interface RedisNodeProcess {
  port: number;
  /** SIGKILL (a crash); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files (after `kill`). */
  restart(): Promise<void>;
}

export interface RedisClusterProcess {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every primary as a seed). */
  url: string;
  nodes: RedisNodeProcess[];
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
  stop(): Promise<void>;
}

function requireRedis(): void {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not installed: run the README test command (npm test), which installs it');
  }
}

const portIsFree = (port: number) => new Promise<boolean>((resolve) => {
  const srv = createServer();
  srv.unref();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

/** A free port whose cluster bus port (port + 10000) is free too. */
export async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await portIsFree(port + 10_000))) return port;
  }
  throw new Error('no free port with a free bus port (port + 10000) found');
}

/** True once a Redis on `port` answers `check` (a fresh short-lived connection each time). */
async function ask<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

/** Runs `redis-server <args>` on `port` (restartable); waits until it answers PING. */
async function startNode(port: number, args: () => string[], what: string): Promise<RedisNodeProcess> {
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const p = spawn('redis-server', args(), { stdio: 'ignore' });
    proc = p;
    await waitFor(async () => {
      if (p.exitCode !== null) throw new Error(`${what} on ${port} exited with ${p.exitCode}`);
      return (await ask(port, (r) => r.ping())) === 'PONG';
    }, 20_000, `${what} on ${port}`);
  };
  await launch();
  return {
    port,
    restart: launch,
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
  };
}

const base = (port: number, dir: string) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];

/**
 * Starts a real Redis Cluster of `primaries` primaries (no replicas) on free loopback ports,
 * each with its bus port free, and waits until every node reports `cluster_state:ok`.
 * Slots are spread evenly by `redis-cli --cluster create`.
 */
export async function startRedisCluster(primaries = 3): Promise<RedisClusterProcess> {
  requireRedis();
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries; i++) {
      const port = await freeClusterPort();
      nodes.push(await startNode(port, () => [
        ...base(port, dir), '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '3000',
      ], 'cluster node'));
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const n of nodes) {
      await waitFor(async () => /cluster_state:ok/.test(await ask(n.port, (r) => r.cluster('INFO'))), 30_000, `cluster_state:ok on ${n.port}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, nodes, stop };
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
    return {
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${master}`,
      master, primary, replicas, sentinels, primaryPort: primaryPortNow, settled, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
