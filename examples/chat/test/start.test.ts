import { afterAll, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../../test/support/ports.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let proc: ChildProcess | undefined;

afterAll(() => {
  if (proc && proc.exitCode === null) process.kill(-proc.pid!, 'SIGKILL');
});

const exited = (p: ChildProcess) => new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));

it('npm start serves the gateway and the chat; the chat logs in against the gateway; Ctrl-C stops both', async () => {
  const [gatewayPort, chatPort] = [await freePort(), await freePort()];
  let out = '';
  proc = spawn('bash', ['scripts/start.sh'], {
    cwd: ROOT,
    detached: true, // its own process group, as in a terminal: Ctrl-C reaches every process in it
    env: { ...process.env, SWITCHBOARD_PORT: String(gatewayPort), CHAT_PORT: String(chatPort), SWITCHBOARD_STORAGE: 'memory', SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_JWT_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));

  const chatUrl = `http://127.0.0.1:${chatPort}`;
  await waitFor(() => out.includes(`Chat example   ${chatUrl}`) && out.includes('DEVELOPMENT MODE'), 45_000, `the chat URL in the output:\n${out}`);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${gatewayPort}/healthz`)).ok, 10_000, 'gateway health');

  const page = await (await fetch(`${chatUrl}/`)).text();
  expect(page).toContain('<title>Switchboard chat</title>');
  const bundle = await fetch(`${chatUrl}/vendor/switchboard.browser.js`);
  expect(bundle.headers.get('content-type')).toContain('text/javascript');
  expect(await bundle.text()).toContain('Switchboard');
  expect(await (await fetch(`${chatUrl}/config.json`)).json()).toMatchObject({ gateway: `ws://127.0.0.1:${gatewayPort}/ws`, rooms: ['lobby', 'random', 'help'] });
  expect((await fetch(`${chatUrl}/../../package.json`)).status).toBe(404);

  // the demo login mints a token the gateway accepts: one secret, shared by the two servers
  const login = await fetch(`${chatUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'smoke' }) });
  expect(login.headers.get('set-cookie')).toMatch(/^chat_login=.+; Path=\/; HttpOnly; SameSite=Strict/);
  const { token } = await login.json() as { token: string };
  const ws = new WebSocket(`ws://127.0.0.1:${gatewayPort}/ws`);
  const frames: Array<Record<string, unknown>> = [];
  ws.onmessage = (e) => frames.push(...[JSON.parse(String(e.data))].flat());
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
  await waitFor(() => frames.find((f) => f.type === 'auth_success' || f.type === 'auth_failed'), 10_000, 'auth answer');
  expect(frames[0]).toMatchObject({ type: 'auth_success', user: 'smoke' });
  ws.close();
  expect((await fetch(`${chatUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"no spaces"}' })).status).toBe(400);

  process.kill(-proc.pid!, 'SIGINT'); // Ctrl-C
  expect(await exited(proc)).toBe(130);
  await expect(fetch(`${chatUrl}/`)).rejects.toThrow();
  await expect(fetch(`http://127.0.0.1:${gatewayPort}/healthz`)).rejects.toThrow();
}, 60_000);
