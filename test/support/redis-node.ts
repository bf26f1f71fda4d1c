import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.ts';

/** One `redis-server` process of a cluster or a Sentinel group. */
export interface RedisNodeProcess {
  port: number;
  /** SIGKILL (a crash); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files (after `kill`). */
  restart(): Promise<void>;
  /** True while the process runs. */
  alive(): boolean;
}

/** Throws (saying how to install it) when `redis-server` is missing: tests never skip. */
export function requireRedis(): void {
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

/** Runs `run` on a fresh short-lived connection to the Redis on `host:port`. */
export async function ask<T>(port: number, run: (r: Redis) => Promise<T>, host = '127.0.0.1'): Promise<T> {
  const r = new Redis({ port, host, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 5000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

/**
 * Common `redis-server` arguments: loopback (or `host`: an address in a test network
 * namespace, where protected mode would refuse every client), no persistence, files in `dir`.
 */
export const baseArgs = (port: number, dir: string, host = '127.0.0.1') => ['--port', String(port), '--bind', host, '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', host === '127.0.0.1' ? 'yes' : 'no'];

/**
 * Runs `redis-server <args>` on `port` (restartable); waits until it answers PING on `host`.
 * `wrap` prefixes the command (e.g. `ip netns exec <ns>` to run it in a network namespace).
 */
export async function startRedisNode(port: number, args: () => string[], what: string, o: { host?: string; wrap?: string[] } = {}): Promise<RedisNodeProcess> {
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const [cmd, ...rest] = [...(o.wrap ?? []), 'redis-server', ...args()];
    const p = spawn(cmd!, rest, { stdio: 'ignore' });
    proc = p;
    await waitFor(async () => {
      if (p.exitCode !== null) throw new Error(`${what} on ${port} exited with ${p.exitCode}`);
      return (await ask(port, (r) => r.ping(), o.host)) === 'PONG';
    }, 20_000, `${what} on ${port}`);
  };
  await launch();
  return {
    port,
    restart: launch,
    alive: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
  };
}
