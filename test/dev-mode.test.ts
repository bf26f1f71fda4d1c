import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './support/ports.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { RawClient } from '../packages/server/test/helpers.ts';

const RAW = fileURLToPath(new URL('../examples/raw-websocket/raw.mjs', import.meta.url));
// As `npm start` runs it: the chat's namespaces and its single sign-on (one login per user).
const CHAT_CONFIG = fileURLToPath(new URL('../examples/chat/switchboard.config.json', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sb-dev-'));
let gw: GatewayProcess;
beforeAll(async () => {
  // No --host: dev mode's own default.
  gw = await startGatewayProcess({ host: null, args: ['--dev', '--storage', 'memory', '--config', CHAT_CONFIG], env: { SWITCHBOARD_DEV_SECRETS: join(dir, 'secrets.json') } });
});
afterAll(async () => {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('serve --dev: healthz answers, and warns loudly that it is not for production', async () => {
  const r = await fetch(`${gw.url}/healthz`);
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({ status: 'ok' });
  expect(gw.output()).toMatch(/DEVELOPMENT MODE — not for production/);
});

test('the README raw-WebSocket example authenticates, subscribes, publishes and receives, as a user of its own: the chat\'s alice stays connected', async () => {
  const alice = new RawClient(gw.wsUrl);
  alice.send({ type: 'auth', name: 'alice' });
  await alice.next((f) => f.type === 'auth_success');
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  // The README shows the same lines as the example file (minus its comment header).
  for (const line of readFileSync(RAW, 'utf8').split('\n').slice(1).filter((l) => l.trim() && !l.includes('SWITCHBOARD_WS'))) {
    expect(readme).toContain(line.trim());
  }
  const child = spawn(process.execPath, [RAW], { env: { ...process.env, SWITCHBOARD_WS: gw.wsUrl } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  await waitFor(() => out.includes('"type":"message"') && out.includes('"id":2'), 10_000, 'message and publish ack');
  child.kill();
  await exited;
  const frames = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(frames[0]).toMatchObject({ type: 'auth_success', user: 'raw-example' });
  expect(frames).toContainEqual(expect.objectContaining({ type: 'ack', id: 1 }));
  expect(frames).toContainEqual(expect.objectContaining({ type: 'ack', id: 2, offset: expect.any(Number) }));
  expect(frames.find((f) => f.type === 'message')).toMatchObject({ type: 'message', channel: 'chat:lobby', data: { text: 'hello' }, from: 'raw-example' });
  // alice (a chat user) was not replaced by the example: her connection still answers
  alice.send({ type: 'presence', id: 7, channel: 'chat:lobby' });
  await alice.next((f) => f.type === 'ack' && f.id === 7);
  expect(alice.closeCode).toBeUndefined();
  alice.ws.close();
});

/** Whether anything answers on `host` at the gateway's port (127.0.0.2 is this machine too, but not 127.0.0.1). */
const answersOn = (host: string, port: number) => fetch(`http://${host}:${port}/healthz`).then((r) => r.ok, () => false);

test('serve --dev listens on 127.0.0.1 only, and the banner says so', async () => {
  expect(gw.output()).toMatch(/Listening 127\.0\.0\.1 only: this machine/);
  expect(await answersOn('127.0.0.1', gw.port)).toBe(true);
  expect(await answersOn('127.0.0.2', gw.port)).toBe(false);
  expect(gw.output()).toContain(`Script    <script src="${gw.url}/switchboard.js"></script>`);
});

test('serve --dev with SWITCHBOARD_HOST=0.0.0.0 listens on every interface, and the banner warns', async () => {
  const open = await startGatewayProcess({ host: null, args: ['--dev', '--storage', 'memory'], env: { SWITCHBOARD_HOST: '0.0.0.0', SWITCHBOARD_DEV_SECRETS: join(dir, 'secrets.json') } });
  try {
    expect(await answersOn('127.0.0.2', open.port)).toBe(true);
    expect(open.output()).toMatch(/Listening 0\.0\.0\.0: EVERY network interface/);
  } finally {
    await open.stop();
  }
});

test('every namespace is open in dev: an unconfigured one has history and presence, and what production would refuse is logged once', async () => {
  const anon = new RawClient(gw.wsUrl);
  anon.send({ type: 'auth', name: 'newcomer' });
  await anon.next((f) => f.type === 'auth_success');
  anon.send({ type: 'publish', id: 1, channel: 'news:ticker', data: { text: 'first' } });
  await anon.next((f) => f.type === 'ack' && f.id === 1);
  anon.send({ type: 'subscribe', id: 2, channel: 'news:ticker', rewind: 5 });
  const sub = await anon.next((f) => f.id === 2);
  expect(sub).toMatchObject({ type: 'ack', id: 2, publications: [{ channel: 'news:ticker', data: { text: 'first' } }] });
  anon.send({ type: 'history', id: 3, channel: 'news:ticker' });
  expect(await anon.next((f) => f.id === 3)).toMatchObject({ type: 'ack', id: 3 });
  anon.send({ type: 'presence', id: 4, channel: 'news:ticker' });
  const presence = await anon.next((f) => f.id === 4);
  expect(JSON.stringify(presence)).toContain('newcomer');
  anon.send({ type: 'publish', id: 5, channel: 'news:ticker', data: { text: 'second' } });
  await anon.next((f) => f.type === 'ack' && f.id === 5);
  await waitFor(() => gw.output().includes('no grant to publish to news:ticker'), 10_000, 'the dev-mode log lines');
  const out = gw.output();
  const lines = (needle: string) => out.split('\n').filter((l) => l.includes(needle));
  expect(lines('namespace \\"news\\" is not configured (unknown_channel)')).toHaveLength(1);
  expect(lines('no grant to subscribe to news:ticker (permission_denied)')).toHaveLength(1);
  // Two publishes, one line (a minute per namespace and kind).
  expect(lines('no grant to publish to news:ticker (permission_denied)')).toHaveLength(1);
  expect(lines('no grant to publish to news:ticker')[0]).toContain("switchboard token --publish 'news:*'");
  anon.ws.close();
});
