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
  gw = await startGatewayProcess({ args: ['--dev', '--storage', 'memory', '--config', CHAT_CONFIG], env: { SWITCHBOARD_DEV_SECRETS: join(dir, 'secrets.json') } });
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
