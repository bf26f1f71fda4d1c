/**
 * `switchboard init`: a production-ready config file with fresh secrets that `serve --config`
 * accepts as written; the three commands it prints work against that gateway (token, publish);
 * it never overwrites a file.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support/ports.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { RawClient } from '../packages/server/test/helpers.ts';

const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sb-init-'));
const FILE = join(dir, 'switchboard.config.json');
let gw: GatewayProcess | undefined;

/** The CLI in `dir`, without any SWITCHBOARD_* of this process, with `env` added. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
    const p = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A printed `npx switchboard …` line as arguments (the quoted ones unquoted). */
const argsOf = (line: string) => [...line.trim().replace(/^npx switchboard /, '').matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);

let printed: string;
beforeAll(async () => {
  const r = await cli(['init']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  printed = r.stdout;
});
afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('init writes switchboard.config.json with fresh secrets, mode 0600, and prints the next three commands', async () => {
  const config = JSON.parse(readFileSync(FILE, 'utf8'));
  expect(statSync(FILE).mode & 0o777).toBe(0o600);
  expect(config.auth.jwtSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(config.apiKeys).toEqual([expect.stringMatching(/^sk_[A-Za-z0-9_-]{32}$/)]);
  expect(config.allowedOrigins).toEqual(['https://app.example.com']);
  expect(Object.keys(config.namespaces)).toEqual(['chat', 'news', '#']);
  expect(printed).not.toContain(config.auth.jwtSecret);
  expect(printed).not.toContain(config.apiKeys[0]);
  const next = printed.split('\n').filter((l) => l.startsWith('  npx switchboard '));
  expect(next.map((l) => argsOf(l)[0])).toEqual(['serve', 'token', 'publish']);
  // Another run makes other secrets.
  const other = mkdtempSync(join(tmpdir(), 'sb-init-other-'));
  try {
    expect((await cli(['init', '--config', join(other, 'c.json')])).status).toBe(0);
    expect(JSON.parse(readFileSync(join(other, 'c.json'), 'utf8')).auth.jwtSecret).not.toBe(config.auth.jwtSecret);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('init refuses to overwrite: exit 2, one line that says what to do, the file unchanged', async () => {
  const before = readFileSync(FILE, 'utf8');
  const r = await cli(['init']);
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toMatch(/^switchboard: init: switchboard\.config\.json already exists: not overwritten .*--config <another path>$/);
  expect(readFileSync(FILE, 'utf8')).toBe(before);
});

test('the printed commands work as written: serve --config accepts the file, token and publish reach it', async () => {
  const next = printed.split('\n').filter((l) => l.startsWith('  npx switchboard ')).map(argsOf);
  const port = await freePort();
  // The serve line as printed (its `serve` dropped: the harness adds it), on a free port.
  gw = await startGatewayProcess({ cwd: dir, host: null, port, args: next[0]!.slice(1) });
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  expect(statSync(join(dir, 'data/switchboard.db')).isFile()).toBe(true); // the file's storage
  const token = await cli(next[1]!);
  expect(token.status).toBe(0);
  const alice = new RawClient(`${gw.wsUrl}?token=${token.stdout.trim()}`);
  await alice.next((f) => f.type === 'auth_success' && f.user === 'alice');
  alice.send({ type: 'subscribe', id: 1, channel: 'news:updates' });
  await alice.next((f) => f.type === 'ack' && f.id === 1);
  const published = await cli(next[2]!, { SWITCHBOARD_PORT: String(port) });
  expect(published.stderr).toBe('');
  expect(JSON.parse(published.stdout)).toMatchObject({ offset: 1, duplicate: false });
  expect(await alice.next((f) => f.type === 'message')).toMatchObject({ channel: 'news:updates', data: { text: 'hello' } });
  alice.ws.close();
});
