import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChatServer, type ChatServer } from '../src/chat-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-logins-'));
let chat: ChatServer;
beforeAll(async () => {
  chat = await startChatServer({ secret: 'chat-logins-secret-0123456789abcdef', sdkDir: dir, gatewayUrl: 'ws://127.0.0.1:1/ws' });
});
afterAll(async () => {
  await chat.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in with the browser's cookie (if any): its new cookie and the gateway token's `sid`. */
async function login(user: string, cookie?: string): Promise<{ cookie: string; sid: unknown }> {
  const r = await fetch(`${chat.url}/api/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify({ user }),
  });
  expect(r.status).toBe(200);
  const { token } = await r.json() as { token: string };
  return { cookie: r.headers.get('set-cookie')!.split(';')[0]!, sid: decodeJwt(token).sid };
}

it('logging in again in the same browser keeps the login (its tabs never replace each other); another browser or user is a new login', async () => {
  const first = await login('uma');
  const again = await login('uma', first.cookie); // the same browser (its cookie), e.g. from a second tab
  expect(again.sid).toBe(first.sid);
  const elsewhere = await login('uma'); // another browser: no cookie
  expect(elsewhere.sid).not.toBe(first.sid);
  const otherUser = await login('vic', first.cookie); // the same browser, another user
  expect(otherUser.sid).not.toBe(first.sid);
  const forged = await login('uma', 'chat_login=not-a-login');
  expect(forged.sid).not.toBe(first.sid);
});

it('the People list survives a restart of the chat server (usersFile)', async () => {
  const usersFile = join(dir, 'data', 'chat-users.json');
  const secret = 'chat-logins-secret-0123456789abcdef';
  const first = await startChatServer({ secret, sdkDir: dir, gatewayUrl: 'ws://127.0.0.1:1/ws', usersFile });
  for (const user of ['vera', 'walt']) {
    const r = await fetch(`${first.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
    expect(r.status).toBe(200);
  }
  const cookie = (await fetch(`${first.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'xena' }) })).headers.get('set-cookie')!.split(';')[0]!;
  await first.close();
  const again = await startChatServer({ secret, sdkDir: dir, gatewayUrl: 'ws://127.0.0.1:1/ws', usersFile });
  try {
    const r = await fetch(`${again.url}/api/users`, { headers: { cookie } });
    expect(r.status).toBe(200);
    expect((await r.json() as { users: string[] }).users).toEqual(['vera', 'walt', 'xena']);
  } finally {
    await again.close();
  }
});
