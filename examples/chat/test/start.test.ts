import { afterAll, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Switchboard } from '../../../packages/client/src/index.ts';
import { launchChromium } from '../../../test/support/chromium.ts';
import { freePort, waitFor } from '../../../test/support/ports.ts';
import { expectConnected, logIn, openChat } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'packages/server/src/cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'sb-start-'));
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const p of running) if (p.exitCode === null) process.kill(-p.pid!, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const exited = (p: ChildProcess) => new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));

/** `npm start` (scripts/start.sh) in its own process group, as in a terminal, with its secrets file in a temp dir. */
function npmStart(ports: { gateway: number; chat: number }) {
  let out = '';
  const proc = spawn('bash', ['scripts/start.sh'], {
    cwd: ROOT,
    detached: true, // its own process group: Ctrl-C reaches every process in it
    env: {
      ...process.env, SWITCHBOARD_PORT: String(ports.gateway), CHAT_PORT: String(ports.chat), SWITCHBOARD_STORAGE: 'memory',
      SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_JWT_SECRET: '', SWITCHBOARD_DEV_SECRETS: join(dir, 'dev-secrets.json'), CHAT_USERS_FILE: join(dir, 'chat-users.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return {
    proc,
    output: () => out,
    banner: () => waitFor(() => out.includes('Chat      http') && out.includes('Gateway   http'), 60_000, `the banner:\n${out}`),
    /** Ctrl-C: SIGINT to the whole process group. */
    async ctrlC() {
      process.kill(-proc.pid!, 'SIGINT');
      return exited(proc);
    },
  };
}

/** The supervised gateway's process id (a child of the supervisor, which start.sh exec'd into). */
function gatewayPid(supervisor: number): number {
  const ps = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(supervisor)], { encoding: 'utf8' });
  const line = ps.split('\n').find((l) => l.includes('cli.ts serve'));
  if (!line) throw new Error(`no gateway under ${supervisor}:\n${ps}`);
  return Number(line.trim().split(/\s+/)[0]);
}

it('npm start: true URLs in the banner, a secrets file, the CLI publishes; kill -9 of the gateway restarts it while the chat stays up; Ctrl-C stops both', async () => {
  const ports = { gateway: await freePort(), chat: await freePort() };
  const run = npmStart(ports);
  await run.banner();
  const gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
  const chatUrl = `http://127.0.0.1:${ports.chat}`;
  const secretsFile = join(dir, 'dev-secrets.json');
  const out = run.output();
  expect(out).toContain(`Chat      ${chatUrl}`);
  expect(out).toContain(`Gateway   ${gatewayUrl}   WebSocket ws://127.0.0.1:${ports.gateway}/ws`);
  expect(out).toContain(`Secrets   ${secretsFile}`);
  expect(out).toContain('npx switchboard token --dev --sub you');
  // Loopback only: 127.0.0.2 is this machine too, but not the address bound.
  expect(out).toContain('Listening 127.0.0.1 only');
  for (const port of [ports.gateway, ports.chat]) expect(await fetch(`http://127.0.0.2:${port}/`).then(() => 'answered', () => 'refused')).toBe('refused');
  expect(out.split('DEVELOPMENT MODE').length - 1).toBe(1); // one banner for both servers
  const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as { jwtSecret: string; apiKey: string };
  expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
  expect(out).not.toContain(secrets.jwtSecret);
  expect(out).not.toContain(secrets.apiKey);

  const page = await (await fetch(`${chatUrl}/`)).text();
  expect(page).toContain('<title>Switchboard chat</title>');
  expect(await (await fetch(`${chatUrl}/config.json`)).json()).toMatchObject({ gateway: `ws://127.0.0.1:${ports.gateway}/ws`, rooms: ['lobby', 'random', 'help'] });
  expect((await fetch(`${chatUrl}/../../package.json`)).status).toBe(404);

  // a chat login holds a connection through the SDK; the CLI publishes to it with npm start's API key
  const cookieJar: string[] = [];
  const login = await fetch(`${chatUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'smoke' }) });
  cookieJar.push(login.headers.get('set-cookie')!.split(';')[0]!);
  const token = async () => ((await (await fetch(`${chatUrl}/api/token`, { method: 'POST', headers: { cookie: cookieJar[0]! } })).json()) as { token: string }).token;
  const client = new Switchboard(`ws://127.0.0.1:${ports.gateway}/ws`, { token, window: null, reconnect: { minDelayMs: 100, maxDelayMs: 500 } });
  const got: unknown[] = [];
  let connects = 0;
  client.on('connected', () => connects++);
  const lobby = client.subscribe('chat:lobby');
  lobby.on('message', (m) => got.push(m.data));
  await lobby.ready();
  const publish = (text: string) => spawnSync(process.execPath, [CLI, 'publish', '--dev', '--url', gatewayUrl, 'chat:lobby', JSON.stringify({ text })], {
    encoding: 'utf8', env: { ...process.env, SWITCHBOARD_DEV_SECRETS: secretsFile }, timeout: 30_000,
  });
  const first = publish('from a shell');
  expect(first.stderr).toBe('');
  expect(JSON.parse(first.stdout)).toMatchObject({ offset: expect.any(Number), duplicate: false });
  await waitFor(() => got.length === 1, 10_000, 'the CLI publication');
  expect(got).toEqual([{ text: 'from a shell' }]);

  // kill -9 the gateway: the supervisor restarts it; the chat answers throughout
  const pid = gatewayPid(run.proc.pid!);
  let chatDown = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const ok = await fetch(`${chatUrl}/config.json`).then((r) => r.ok, () => false);
      if (!ok) chatDown++;
    }
  })();
  process.kill(pid, 'SIGKILL');
  await waitFor(() => run.output().includes(`gateway is back on ${gatewayUrl}`), 60_000, `the gateway restarted:\n${run.output()}`);
  expect(gatewayPid(run.proc.pid!)).not.toBe(pid);
  await waitFor(() => connects === 2, 30_000, 'the SDK reconnected to the restarted gateway');
  polling = false;
  await poll;
  expect(chatDown).toBe(0);
  expect(run.output()).toMatch(/gateway exited \(SIGKILL\); restarting it in/);
  const second = publish('after the restart');
  expect(second.status, second.stderr).toBe(0);
  await waitFor(() => got.length === 2, 10_000, 'the second CLI publication');
  client.close();

  expect(await run.ctrlC()).toBe(130);
  running.delete(run.proc);
  await expect(fetch(`${chatUrl}/`)).rejects.toThrow();
  await expect(fetch(`${gatewayUrl}/healthz`)).rejects.toThrow();
}, 180_000);

it('a restart of npm start keeps the login: the page reconnects with its token, and a reload is still logged in', async () => {
  const ports = { gateway: await freePort(), chat: await freePort() };
  const chatUrl = `http://127.0.0.1:${ports.chat}`;
  const first = npmStart(ports);
  const browser = await launchChromium();
  try {
    await first.banner();
    const context = await browser.newContext();
    const page = await openChat(context, chatUrl);
    await logIn(page, 'rita');
    expect(await first.ctrlC()).toBe(130);
    running.delete(first.proc);
    await expect.poll(() => page.locator('#status-text').textContent(), { timeout: 30_000 }).not.toBe('Connected as rita');

    const again = npmStart(ports);
    await again.banner();
    // the SDK reconnects (its backoff grew during the outage) with the token it had: same secret
    await expect.poll(() => page.locator('#status-text').textContent(), { timeout: 45_000 }).toBe('Connected as rita');
    await page.reload();
    await expectConnected(page, 'rita');
    // the login cookie still trades for gateway tokens
    expect((await context.request.post(`${chatUrl}/api/token`)).status()).toBe(200);
    expect((page as typeof page & { errors: string[] }).errors).toEqual([]);
    expect(await again.ctrlC()).toBe(130);
    running.delete(again.proc);
  } finally {
    await browser.close();
  }
}, 240_000);

it('npm start whose parent goes away (npm stopped with SIGTERM, its sh -c gone): the gateway and the chat stop too', async () => {
  const ports = { gateway: await freePort(), chat: await freePort() };
  // As npm runs it: `sh -c` around the script; only the shell gets the signal.
  const sh = spawn('sh', ['-c', 'bash scripts/start.sh; true'], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env, SWITCHBOARD_PORT: String(ports.gateway), CHAT_PORT: String(ports.chat), SWITCHBOARD_STORAGE: 'memory',
      SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_JWT_SECRET: '', SWITCHBOARD_DEV_SECRETS: join(dir, 'dev-secrets.json'), CHAT_USERS_FILE: join(dir, 'chat-users.json'),
    },
    stdio: 'ignore',
  });
  running.add(sh);
  const up = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) !== undefined;
  await waitFor(async () => (await up(ports.gateway)) && (await up(ports.chat)), 60_000, 'gateway and chat up');
  process.kill(sh.pid!, 'SIGTERM');
  await exited(sh);
  await waitFor(async () => !(await up(ports.gateway)) && !(await up(ports.chat)), 30_000, 'gateway and chat stopped');
  running.delete(sh);
}, 120_000);

it('npm start with a port in use: one line that says what to do, exit code 2, nothing left running', async () => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const taken = (busy.address() as { port: number }).port;
  try {
    for (const [which, ports] of [['gateway', { gateway: taken, chat: await freePort() }], ['chat', { gateway: await freePort(), chat: taken }]] as const) {
      const run = npmStart(ports);
      expect(await exited(run.proc), run.output()).toBe(2);
      running.delete(run.proc);
      const prefix = which === 'gateway' ? 'switchboard' : 'chat';
      expect(run.output()).toMatch(new RegExp(`${prefix}: port ${taken} is already in use on [0-9.]+: .*(--port|CHAT_PORT)`));
      expect(run.output()).not.toMatch(/\n\s+at /);
      await expect(fetch(`http://127.0.0.1:${which === 'gateway' ? ports.chat : ports.gateway}/`)).rejects.toThrow(); // the other one is not left running
    }
  } finally {
    busy.close();
  }
}, 240_000);
