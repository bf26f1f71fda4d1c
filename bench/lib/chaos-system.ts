import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../test/support/ports.ts';
import { startRedisNode, type RedisNodeProcess } from '../../test/support/redis-node.ts';
import { startRedisSentinel, type RedisSentinelProcess } from '../../test/support/redis-cluster.ts';
import type { Target } from './fault-proxy.ts';

/** The systems `chaos` compares. */
export type ChaosPeer = 'switchboard' | 'socketio' | 'ws';
/** One node alone, two nodes on one Redis, two nodes on a Sentinel group (a primary, two replicas, a sentinel). */
export type Topology = 'one' | 'redis' | 'sentinel';

export const CHAOS_SECRET = 'chaos-secret-0123456789abcdef';
const CLI = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));
const server = (name: string) => fileURLToPath(new URL(`../servers/chaos-${name}.ts`, import.meta.url));

/** One server process of the system under test: killed, stopped and started again on the same port. */
class NodeProcess {
  proc: ChildProcess | undefined;
  output = '';
  readonly name: string;
  readonly host: string;
  readonly port: number;
  private readonly argv: string[];
  private readonly env: Record<string, string>;

  constructor(name: string, host: string, port: number, argv: string[], env: Record<string, string>) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.argv = argv;
    this.env = env;
  }

  get pid(): number | undefined {
    return this.alive ? this.proc!.pid : undefined;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts it and waits (bounded) until `GET /healthz` answers 200. */
  async start(): Promise<void> {
    const p = spawn(this.argv[0]!, this.argv.slice(1), { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-4000); };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    await waitFor(async () => {
      if (p.exitCode !== null) throw new Error(`${this.name} exited ${p.exitCode}: ${this.output}`);
      return (await fetch(`http://${this.host}:${this.port}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok;
    }, 90_000, `${this.name} on ${this.host}:${this.port}`);
  }

  private exited(): Promise<void> {
    const p = this.proc;
    return !p || p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    const e = this.exited();
    this.proc?.kill('SIGKILL');
    await e;
  }

  /** SIGTERM (graceful), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const e = this.exited();
    this.proc!.kill('SIGTERM');
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), 20_000);
    await e;
    clearTimeout(t);
  }
}

/** A peer's system under test for one fault: its nodes, and the Redis they share if any. */
export interface ChaosSystem {
  peer: ChaosPeer;
  topology: Topology;
  nodes: NodeProcess[];
  /** The single Redis (`redis`), restartable with its append-only file. */
  redis?: RedisNodeProcess;
  /** The Sentinel group (`sentinel`). */
  sentinel?: RedisSentinelProcess;
  /** Addresses of the nodes now running: where the fault proxies forward new connections. */
  targets(): Target[];
  /** Process ids of the running nodes (CPU and memory). */
  pids(): number[];
  stop(): Promise<void>;
}

export interface SystemOptions {
  /** Listen on this address (a network namespace's) and start every node under `wrap`. */
  host?: string;
  wrap?: string[];
  /** Switchboard's heartbeat (ms; default the product's 25 s). */
  heartbeatMs?: number;
}

/** Starts `peer` in `topology`. Switchboard runs its real CLI: SQLite alone (durable across kill -9), Redis storage on two nodes. */
export async function startSystem(peer: ChaosPeer, topology: Topology, o: SystemOptions = {}): Promise<ChaosSystem> {
  const host = o.host ?? '127.0.0.1';
  const wrap = o.wrap ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'sb-chaos-'));
  let redis: RedisNodeProcess | undefined;
  let sentinel: RedisSentinelProcess | undefined;
  if (topology === 'redis') {
    // Append-only file, fsync on every write: a restarted Redis keeps what it acknowledged.
    const port = await freePort();
    redis = await startRedisNode(port, () => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'yes'], 'redis');
  } else if (topology === 'sentinel') {
    sentinel = await startRedisSentinel({ replicaCount: 2 });
  }
  const sharedEnv: Record<string, string> = redis
    ? { CHAOS_REDIS: `redis://127.0.0.1:${redis.port}` }
    : sentinel ? { CHAOS_SENTINELS: sentinel.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), CHAOS_MASTER: sentinel.master } : {};
  const count = topology === 'one' ? 1 : 2;
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const name = `${peer}-${i}`;
    if (peer === 'switchboard') {
      const config = join(dir, `config-${i}.json`);
      writeFileSync(config, JSON.stringify({
        logLevel: 'warn',
        storage: topology === 'one' ? `sqlite:${join(dir, 'switchboard.db')}` : 'redis',
        namespaces: { room: { history: { size: 100_000, ttl: '2h' }, allowSubscribe: true, allowPublish: true } },
        // Every client of the bench comes from 127.0.0.1: the per-IP handshake rate would refuse a mass reconnect.
        limits: { connectionsPerIpPerSecond: 100_000, commandsPerSecond: 100_000 },
        ...(o.heartbeatMs ? { heartbeat: { intervalMs: o.heartbeatMs, timeoutMs: Math.max(1000, Math.round(o.heartbeatMs / 2)) } } : {}),
      }));
      const redisArg = redis ? ['--redis', `redis://127.0.0.1:${redis.port}`] : sentinel ? ['--redis', sentinel.url] : [];
      nodes.push(new NodeProcess(name, host, port, [...wrap, process.execPath, CLI, 'serve', '--port', String(port), '--host', host, '--config', config, '--jwt-secret', CHAOS_SECRET, ...redisArg], {
        SWITCHBOARD_LOG_LEVEL: 'warn', ...(sentinel ? { SWITCHBOARD_REDIS_WAIT_REPLICAS: '1' } : {}),
      }));
    } else {
      nodes.push(new NodeProcess(name, host, port, [...wrap, process.execPath, server(peer)], { CHAOS_PORT: String(port), CHAOS_HOST: host, ...sharedEnv }));
    }
  }
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.kill();
    await sentinel?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) await n.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    peer, topology, nodes, redis, sentinel,
    targets: () => nodes.filter((n) => n.alive).map((n) => ({ host: n.host, port: n.port })),
    pids: () => nodes.map((n) => n.pid).filter((p): p is number => p !== undefined),
    stop,
  };
}
