import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { RawClient, SECRET, token } from '../packages/server/test/helpers.ts';

/**
 * Block, unblock and revoke across gateway processes: two nodes on a real redis-server,
 * and one node on SQLite killed with SIGKILL and restarted. Driven by the `switchboard`
 * CLI (`block`, `unblock`, `revoke`, `access`) and the server API.
 */
const API_KEY = 'access-cluster-key-0123456789';
const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));
const now = () => Math.floor(Date.now() / 1000);
const raws: RawClient[] = [];

/** Runs `switchboard <args>` against a node; resolves with its exit code and output. */
function cli(node: GatewayProcess, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args, '--url', node.url], { env: { ...process.env, SWITCHBOARD_API_KEY: API_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}
async function connect(node: GatewayProcess, user: string, t?: string): Promise<RawClient> {
  const c = new RawClient(`${node.wsUrl}?token=${t ?? (await token(user))}`);
  raws.push(c);
  await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  return c;
}
const tokenIssuedAt = (sub: string, iat: number) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt(iat).setExpirationTime(now() + 3600).sign(new TextEncoder().encode(SECRET));
const outcome = (c: RawClient) => c.frames.at(-1)?.type === 'auth_success' ? 'ok' : c.frames.at(-1)?.reason;

afterEach(() => {
  for (const c of raws.splice(0)) c.close();
});

describe('two nodes on Redis', { timeout: 120_000 }, () => {
  let redis: RedisProcess;
  let a: GatewayProcess;
  let b: GatewayProcess;
  beforeAll(async () => {
    redis = await startRedis();
    const args = ['--redis', redis.url, '--jwt-secret', SECRET, '--api-key', API_KEY];
    [a, b] = await Promise.all([startGatewayProcess({ args }), startGatewayProcess({ args })]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
  });

  it('a block on one node closes the user on the other, refuses it everywhere, and unblock lifts it', async () => {
    const onB = await connect(b, 'alice');
    const bystander = await connect(b, 'bob');
    const r = await cli(a, 'block', 'alice', '--reason', 'fraud');
    expect(r).toMatchObject({ code: 0, out: 'blocked alice until unblocked\n' });
    expect(await onB.waitClose(10_000)).toBe(3502);
    expect(outcome(await connect(b, 'alice'))).toBe('blocked');
    expect(outcome(await connect(a, 'alice'))).toBe('blocked');
    await bystander.roundtrip();
    expect(JSON.parse((await cli(b, 'access', 'alice')).out)).toEqual({ user: 'alice', blocked: true, reason: 'fraud' });
    expect((await cli(b, 'unblock', 'alice')).code).toBe(0);
    expect(outcome(await connect(a, 'alice'))).toBe('ok');
  });

  it('a revocation on one node closes older-token connections on the other; fresh tokens work on both', async () => {
    const old = await connect(a, 'carol', await tokenIssuedAt('carol', now() - 100));
    const fresh = await connect(a, 'carol', await tokenIssuedAt('carol', now() - 10));
    const r = await cli(b, 'revoke', 'carol', '--before', String(now() - 50));
    expect(r.code).toBe(0);
    expect(await old.waitClose(10_000)).toBe(3502);
    expect(old.frames.at(-1)).toMatchObject({ type: 'disconnect', reason: 'token_revoked' });
    await fresh.roundtrip();
    expect(outcome(await connect(a, 'carol', await tokenIssuedAt('carol', now() - 100)))).toBe('token_revoked');
    expect(outcome(await connect(b, 'carol'))).toBe('ok');
  });

  it('blocks outlive a restart of every gateway (they are stored in Redis)', async () => {
    expect((await cli(a, 'block', 'dave', '--ttl', '1h')).out).toBe('blocked dave for 3600s\n');
    await Promise.all([a.kill(), b.kill()]);
    await Promise.all([a.restart(), b.restart()]);
    expect(outcome(await connect(a, 'dave'))).toBe('blocked');
    expect(outcome(await connect(b, 'dave'))).toBe('blocked');
  });

  it('the CLI says in one line what went wrong', async () => {
    const bad = await cli(a, 'block', 'not a user');
    expect(bad.code).not.toBe(0);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/^switchboard: block: the gateway answered 400: .*user/);
    const noKey = spawn(process.execPath, [CLI, 'unblock', 'x', '--url', a.url], { env: { ...process.env, SWITCHBOARD_API_KEY: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    noKey.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => noKey.on('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/no API key: pass --api-key or set SWITCHBOARD_API_KEY/);
  });
});

describe('one node on SQLite', { timeout: 120_000 }, () => {
  it('a block outlives kill -9 and restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-access-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ storage: `sqlite:${join(dir, 'data.db')}` }));
    const node = await startGatewayProcess({ args: ['--config', join(dir, 'config.json'), '--jwt-secret', SECRET, '--api-key', API_KEY] });
    try {
      const live = await connect(node, 'erin');
      expect((await cli(node, 'block', 'erin')).code).toBe(0);
      expect(await live.waitClose(10_000)).toBe(3502);
      await node.kill();
      await node.restart();
      expect(outcome(await connect(node, 'erin'))).toBe('blocked');
      expect((await cli(node, 'unblock', 'erin')).code).toBe(0);
      expect(outcome(await connect(node, 'erin'))).toBe('ok');
    } finally {
      await node.kill();
    }
  });
});
