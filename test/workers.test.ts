import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { SECRET, connectAuthed, type RawClient } from '../packages/server/test/helpers.ts';

const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));

/** Redis clients named switchboard:* (each worker opens one of each kind). */
async function workerConnections(url: string): Promise<number> {
  const r = new Redis(url);
  try {
    const list = (await r.client('LIST')) as string;
    return list.split('\n').filter((l) => / name=switchboard:broker-sub /.test(l)).length;
  } finally {
    r.disconnect();
  }
}

describe('switchboard serve --workers N', () => {
  let redis: RedisProcess;
  let gw: GatewayProcess;
  beforeAll(async () => {
    redis = await startRedis();
    gw = await startGatewayProcess({ args: ['--dev', '--workers', '2', '--redis', redis.url, '--jwt-secret', SECRET, '--log-level', 'info'] });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('runs N nodes on one port that deliver to each other', async () => {
    await waitFor(async () => (await workerConnections(redis.url)) === 2, 15_000, 'two workers connected to Redis');
    const subs: RawClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await connectAuthed(gw.wsUrl, `u${i}`);
      expect((await c.request({ type: 'subscribe', channel: 'chat:w' })).type).toBe('ack');
      subs.push(c);
    }
    const pub = await connectAuthed(gw.wsUrl, 'pub');
    for (let i = 0; i < 10; i++) expect((await pub.request({ type: 'publish', channel: 'chat:w', data: i })).type).toBe('ack');
    for (const c of subs) {
      await waitFor(() => c.frames.filter((f) => f.type === 'message').length === 10);
      expect(c.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      c.close();
    }
    pub.close();
  });

  it('prints the dev banner once, from the primary, with the shared port', async () => {
    const count = (what: string) => gw.output().split(what).length - 1;
    await waitFor(() => count('"switchboard listening"') === 2, 15_000, 'both workers listening');
    expect(count('DEVELOPMENT MODE')).toBe(1);
    expect(gw.output()).toContain(`Gateway   ${gw.url}   WebSocket ${gw.wsUrl}`);
  });

  it('replaces a worker that dies', async () => {
    // Kill one worker (a child of the primary) and wait until two are connected again.
    const children = spawnSync('pgrep', ['-P', String(gw.proc.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    expect(children.length).toBe(2);
    process.kill(Number(children[0]), 'SIGKILL');
    await waitFor(async () => {
      const now = spawnSync('pgrep', ['-P', String(gw.proc.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      return now.length === 2 && !now.includes(children[0]!) && (await workerConnections(redis.url)) === 2;
    }, 15_000, 'a replacement worker');
    const c = await connectAuthed(gw.wsUrl, 'after');
    expect(c.frames.at(-1).type).toBe('auth_success');
    c.close();
    await waitFor(() => gw.output().split('"switchboard listening"').length - 1 === 3, 15_000, 'the replacement listening');
    expect(gw.output().split('DEVELOPMENT MODE').length - 1).toBe(1);
  });

  it('refuses more than one worker without a cluster backend (Redis or PostgreSQL)', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--dev', '--port', '0', '--workers', '2'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/without a cluster backend.*--redis.*--postgres/s);
  });
});
