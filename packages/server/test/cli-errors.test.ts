import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { freePort } from '../../../test/support/ports.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
const NO_SECRETS = { SWITCHBOARD_DEV_SECRETS: join(dir, 'absent', 'dev-secrets.json') };
let busy: Server;
let busyPort: number;
let deadPort: number;

/** Runs the CLI (asynchronously: the cases run side by side) with a clean environment. */
function run(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...clean, SWITCHBOARD_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), 150_000);
    p.on('exit', (status) => {
      clearTimeout(kill);
      resolve({ status, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as { port: number }).port;
  deadPort = await freePort();
  writeFileSync(join(dir, 'broken.json'), '{ "port": 80,');
  writeFileSync(join(dir, 'unknown-key.json'), JSON.stringify({ prot: 8080 }));
});
afterAll(() => {
  busy.close();
  rmSync(dir, { recursive: true, force: true });
});

const SECRET = { SWITCHBOARD_JWT_SECRET: 'cli-test-secret-0123456789' };

/** Operator mistakes: [what, argv, environment, what the one line must say]. */
const mistakes: Array<[string, () => string[], Record<string, string>, () => RegExp]> = [
  ['unknown flag', () => ['serve', '--prot', '8080'], SECRET, () => /unknown option '--prot'.*switchboard serve --help/],
  ['unknown command', () => ['srve'], {}, () => /unknown command 'srve'.*--help/],
  ['flag without its value', () => ['serve', '--port'], SECRET, () => /--port <port>.*argument missing.*serve --help/],
  ['bad log level', () => ['serve', '--log-level', 'loud'], SECRET, () => /--log-level.*loud.*(info|Allowed)/],
  ['bad port in the environment', () => ['serve'], { ...SECRET, SWITCHBOARD_PORT: 'eighty' }, () => /SWITCHBOARD_PORT/],
  ['config file missing', () => ['serve', '--config', join(dir, 'nope.json')], SECRET, () => /cannot read config file .*nope\.json/],
  ['config file not JSON', () => ['serve', '--config', join(dir, 'broken.json')], SECRET, () => /broken\.json is not valid JSON/],
  ['unknown key in the config file', () => ['serve', '--config', join(dir, 'unknown-key.json')], SECRET, () => /prot/],
  ['no way to authenticate', () => ['serve', '--port', '0'], {}, () => /no way to authenticate.*SWITCHBOARD_JWT_SECRET.*--dev/],
  ['port in use', () => ['serve', '--host', '127.0.0.1', '--port', String(busyPort)], SECRET, () => new RegExp(`port ${busyPort} is already in use.*--port`)],
  ['Redis unreachable', () => ['serve', '--port', '0', '--redis', `redis://127.0.0.1:${deadPort}`], SECRET, () => new RegExp(`cannot connect to Redis at 127\\.0\\.0\\.1:${deadPort}.*start Redis there, or fix --redis`)],
  ['workers without Redis', () => ['serve', '--port', '0', '--workers', '2'], SECRET, () => /workers without a cluster backend.*--redis.*--postgres/],
  ['outbox init without a database', () => ['outbox', 'init'], {}, () => /outbox init: no database: pass --url postgres:.*SWITCHBOARD_OUTBOX_URL/],
  ['outbox init with a bad table name', () => ['outbox', 'init', '--print', '--table', 'drop table'], {}, () => /outbox init: outbox\.table "drop table" must be a lower-case table name/],
  ['token without a secret', () => ['token', '--sub', 'alice'], NO_SECRETS, () => /no secret: pass --secret.*--dev/],
  ['token without --sub', () => ['token'], SECRET, () => /--sub <user>.*not specified.*token --help/],
  ['token with a bad ttl', () => ['token', '--sub', 'alice', '--ttl', 'soon'], SECRET, () => /--ttl "soon" is not a duration/],
  ['token --dev before npm start ever ran', () => ['token', '--dev', '--sub', 'alice'], NO_SECRETS, () => /no development secrets at .*npm start/],
  ['publish data that is not JSON', () => ['publish', 'chat:lobby', '{text:hi}', '--api-key', 'k'.repeat(16)], {}, () => /must be JSON.*single quotes/],
  ['publish without data', () => ['publish', 'chat:lobby'], {}, () => /missing required argument 'json'.*publish --help/],
  ['publish without an API key', () => ['publish', 'chat:lobby', '{}'], NO_SECRETS, () => /no API key: pass --api-key/],
  ['publish with no gateway there', () => ['publish', '--url', `http://127.0.0.1:${deadPort}`, '--api-key', 'k'.repeat(16), 'chat:lobby', '{}'], {}, () => /no gateway answers at http:\/\/127\.0\.0\.1:\d+.*npm start.*--url/],
];

describe('every operator mistake: one line that says what to do, no stack trace, exit code 2', () => {
  test.concurrent.each(mistakes)('%s', async (_what, argv, env, says) => {
    const r = await run(argv(), env);
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: /);
    expect(lines[0]).toMatch(says());
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  }, 200_000);
});

describe('token --ttl', () => {
  test('0 mints a token without expiry, as the help says', { timeout: 200_000 }, async () => {
    const r = await run(['token', '--sub', 'alice', '--ttl', '0'], SECRET);
    expect(r.status, r.stderr).toBe(0);
    const claims = decodeJwt(r.stdout.trim());
    expect(claims.sub).toBe('alice');
    expect(claims.exp).toBeUndefined();
  });

  test('a duration sets exp that far from iat', { timeout: 200_000 }, async () => {
    const r = await run(['token', '--sub', 'alice', '--ttl', '15m'], SECRET);
    const claims = decodeJwt(r.stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(900);
  });
});
