import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { ConfigError, configFromEnv, parseConfig } from '../src/config.ts';
import { loadConfig } from '../src/cli.ts';

// The command as installed (bin/), which also resolves the workspace to its sources in a checkout.
const CLI = fileURLToPath(new URL('../bin/switchboard.js', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 120_000 });

describe('configuration', () => {
  test('defaults follow config-v1', () => {
    const c = parseConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.auth.algorithms).toEqual(['HS256']);
    expect(c.auth.allowQueryToken).toBe(true);
    expect(c.auth.timeoutMs).toBe(10_000);
    expect(c.heartbeat).toEqual({ intervalMs: 25_000, timeoutMs: 8_000 });
    expect(c.limits.maxFrameBytes).toBe(65_536);
    expect(c.limits.maxChannelsPerConnection).toBe(128);
    expect(c.sessions).toMatchObject({ maxPerUser: null, onLimit: 'kick_oldest' });
    expect(c.hooks.connect.forwardHeaders).toEqual(['cookie']);
  });

  test('postgres: cluster mode on PostgreSQL alone, storage "postgres" by default; the outbox and its environment', () => {
    const c = parseConfig({ postgres: 'postgres://sb:secret@db:5432/app' });
    expect([c.postgres, c.storage, c.redis]).toEqual(['postgres://sb:secret@db:5432/app', 'postgres', null]);
    expect(parseConfig({}).outbox).toEqual({ postgres: null, table: 'switchboard_outbox', pollIntervalMs: 5000, batchSize: 200 });
    expect(configFromEnv({ SWITCHBOARD_POSTGRES_URL: 'postgresql://db/x', SWITCHBOARD_OUTBOX_URL: 'postgres://db/app' })).toEqual({ postgres: 'postgresql://db/x', outbox: { postgres: 'postgres://db/app' } });
    expect(parseConfig({ outbox: { postgres: 'postgres://db/app', table: 'app.orders_outbox' } }).outbox.table).toBe('app.orders_outbox');
  });

  test('tracing: off by default; SWITCHBOARD_TRACING turns it on; a bad value names the variable', () => {
    expect(parseConfig({}).tracing).toEqual({ enabled: false, endpoint: null, serviceName: 'switchboard', sampleRatio: 1 });
    expect(configFromEnv({ SWITCHBOARD_TRACING: 'true' })).toEqual({ tracing: { enabled: true } });
    expect(configFromEnv({ SWITCHBOARD_TRACING: '0' })).toEqual({ tracing: { enabled: false } });
    expect(() => configFromEnv({ SWITCHBOARD_TRACING: 'maybe' })).toThrow(/SWITCHBOARD_TRACING/);
    expect(() => parseConfig({ tracing: { enabled: true, sampleRatio: 2 } })).toThrow(/tracing\.sampleRatio/);
  });

  test('durations parse; bad values and unknown keys name the key', () => {
    expect(parseConfig({ namespaces: { chat: { history: { size: 5, ttl: '24h' } } } }).namespaces.chat!.history!.ttl).toBe(86_400_000);
    const bad: Array<[unknown, RegExp]> = [
      [{ port: 'x' }, /port/],
      [{ port: 70000 }, /port/],
      [{ auth: { algorithms: ['none'] } }, /auth\.algorithms\.0/],
      [{ bogus: 1 }, /unknown key.*"bogus"/],
      [{ namespaces: { chat: { history: { size: 5, ttl: 'soon' } } } }, /namespaces\.chat\.history\.ttl/],
      [{ namespaces: { chat: { colour: 'red' } } }, /namespaces\.chat.*colour/],
      [{ storage: 'mongodb' }, /storage/],
      [{ postgres: 'redis://127.0.0.1' }, /postgres: expected a PostgreSQL URL/],
      [{ postgres: 'postgres://db/x', redis: 'redis://127.0.0.1' }, /choose one cluster backend/],
      [{ outbox: { postgres: 'mysql://db/x' } }, /outbox\.postgres/],
      [{ outbox: { table: 'Robert"); DROP TABLE x' } }, /outbox\.table/],
      [{ apiKeys: ['short'] }, /apiKeys\.0/],
    ];
    for (const [input, msg] of bad) {
      expect(() => parseConfig(input)).toThrowError(ConfigError);
      expect(() => parseConfig(input)).toThrowError(msg);
    }
  });

  test('precedence: defaults < file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbcfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ port: 1111, host: '127.0.0.2', auth: { jwtSecret: 'from-file' }, allowedOrigins: ['https://a.example'] }));
    const c = loadConfig({ config: file, port: '3333' }, { SWITCHBOARD_PORT: '2222', SWITCHBOARD_JWT_SECRET: 'from-env', SWITCHBOARD_API_KEY: 'k'.repeat(16) + ',' + 'j'.repeat(16) });
    expect(c.port).toBe(3333);
    expect(c.host).toBe('127.0.0.2');
    expect(c.auth.jwtSecret).toBe('from-env');
    expect(c.apiKeys).toHaveLength(2);
    expect(c.allowedOrigins).toEqual(['https://a.example']);
  });
});

describe('CLI', { timeout: 150_000 }, () => {
  test('serve refuses to start with no way to authenticate, and says how to fix it', () => {
    const r = run(['serve', '--port', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no way to authenticate/);
    expect(r.stderr).toMatch(/SWITCHBOARD_JWT_SECRET/);
    expect(r.stderr).toMatch(/--dev/);
  });

  test('a bad value stops start-up naming the key', () => {
    const r = run(['serve'], { SWITCHBOARD_PORT: 'eighty', SWITCHBOARD_JWT_SECRET: 's' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/SWITCHBOARD_PORT/);
    const dir = mkdtempSync(join(tmpdir(), 'sbcfg-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ heartbeat: { intervalMs: -5 } }));
    const r2 = run(['serve', '--config', join(dir, 'c.json')], { SWITCHBOARD_JWT_SECRET: 's' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/heartbeat\.intervalMs/);
  });

  test('token mints a verifiable token with the configured secret', async () => {
    const r = run(['token', '--sub', 'alice', '--channels', 'chat:*', '--publish', 'chat:*', '--ttl', '1h', '--info', '{"name":"Alice"}'], { SWITCHBOARD_JWT_SECRET: 'cli-secret' });
    expect(r.status, r.stderr).toBe(0);
    const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode('cli-secret'));
    expect(payload).toMatchObject({ sub: 'alice', channels: ['chat:*'], publish: ['chat:*'], info: { name: 'Alice' } });
    expect(payload.exp! - payload.iat!).toBe(3600);
    const bad = run(['token', '--sub', 'alice']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/no secret/);
  });
});
