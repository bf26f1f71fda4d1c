import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.ts';
import { Redis } from 'ioredis';

export interface RedisProcess {
  url: string;
  port: number;
  /** SIGKILL the server (a crash). */
  kill(): Promise<void>;
  /** Start it again on the same port (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` on a free loopback port, with no persistence. The test
 * command installs redis-server when missing; a test never skips because it is absent.
 */
export async function startRedis(): Promise<RedisProcess> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not installed: run the README test command (npm test), which installs it');
  }
  const port = await freePort();
  // Its own directory: a server made a replica writes dump.rdb there, never into the repository.
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
    await waitFor(async () => {
      const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, 10_000, `redis-server on ${port}`);
  };
  const killNow = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await launch();
  const stop = async () => {
    await killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: `redis://127.0.0.1:${port}`, port, kill: killNow, restart: launch, stop };
}
