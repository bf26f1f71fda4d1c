import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startGatewayProcess, type GatewayProcess } from '../../../test/support/gateway-process.ts';
import { startChatServer, type ChatServer, TOKEN_STORAGE_KEY } from '../src/chat-server.ts';

const SECRET = 'chat-test-secret-0123456789abcdef';
const API_KEY = 'chat-test-api-key-0123456789';
const CONFIG = fileURLToPath(new URL('../switchboard.config.json', import.meta.url));
export { TOKEN_STORAGE_KEY };

/** Builds the SDK's browser bundle (what `npm run build -w packages/client` puts in dist/) into a temp dir. */
async function buildBundle(dir: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../../../packages/client/src/index.ts', import.meta.url))],
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, logLevel: 'warning', conditions: ['switchboard-source'],
    outfile: join(dir, 'switchboard.mjs'),
  });
}

export interface Stack {
  gateway: GatewayProcess;
  chat: ChatServer;
  dir: string;
  close(): Promise<void>;
}

/**
 * The chat as `npm start` runs it, minus `--dev`: the real gateway CLI as a child process
 * with the example's config file and durable SQLite storage, and the companion server.
 */
export async function startStack(o: { tokenTtlSec?: number } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chat-'));
  const [gateway] = await Promise.all([
    startGatewayProcess({ args: ['--config', CONFIG, '--jwt-secret', SECRET, '--api-key', API_KEY, '--storage', `sqlite:${join(dir, 'switchboard.db')}`] }),
    buildBundle(dir),
  ]);
  const chat = await startChatServer({ secret: SECRET, sdkDir: dir, gatewayUrl: gateway.wsUrl, ...(o.tokenTtlSec ? { tokenTtlSec: o.tokenTtlSec } : {}) });
  return {
    gateway, chat, dir,
    async close() {
      await chat.close();
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Who is in a channel, from the gateway's server API: user → connection count. */
export async function presence(gateway: GatewayProcess, channel: string): Promise<Record<string, number>> {
  const r = await fetch(`${gateway.url}/api/presence`, {
    method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel }),
  });
  if (!r.ok) throw new Error(`presence: ${r.status} ${await r.text()}`);
  const body = await r.json() as { presence: Record<string, { connections: number }> };
  return Object.fromEntries(Object.entries(body.presence).map(([u, p]) => [u, p.connections]));
}

/** Publishes through the gateway's server API, as a backend does. */
export async function publishApi(gateway: GatewayProcess, channel: string, data: unknown): Promise<void> {
  const r = await fetch(`${gateway.url}/api/publish`, {
    method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel, data }),
  });
  if (!r.ok) throw new Error(`publish: ${r.status} ${await r.text()}`);
}

/** Opens the chat in a page; collects page errors so a test can assert there were none. */
export async function openChat(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Nothing the page asks for is missing (a /favicon.ico 404 included).
  page.on('response', (r) => { if (r.status() === 404) errors.push(`404 ${new URL(r.url()).pathname}`); });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(url);
  return page;
}

/** Logs in through the form and waits for the connection indicator to say so. */
export async function logIn(page: Page, user: string): Promise<void> {
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expectConnected(page, user);
}

export async function expectConnected(page: Page, user: string): Promise<void> {
  // After a restart the SDK may be in its backoff (up to its maximum delay) before it tries again.
  await expect.poll(() => page.locator('#status-text').textContent(), { timeout: 60_000 }).toBe(`Connected as ${user}`);
}

/** Types a message into the composer and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
}

/** Texts of the messages shown in the open conversation (sent ones, not pending). */
export function shown(page: Page): Promise<string[]> {
  return page.locator('#messages li.msg:not(.pending) .text').allTextContents();
}

/** Opens a conversation from the sidebar: `#lobby` for a room, a user name for a private chat. */
export async function openConversation(page: Page, name: string): Promise<void> {
  const key = name.startsWith('#') ? `room:${name.slice(1)}` : `dm:${name}`;
  await page.locator(`button.conv[data-key="${key}"]`).click();
  await expect.poll(() => page.locator('#conv-title').textContent()).toBe(name);
}

/** The sidebar entry of a conversation (its text includes the unread badge and online state). */
export function entry(page: Page, name: string) {
  const key = name.startsWith('#') ? `room:${name.slice(1)}` : `dm:${name}`;
  return page.locator(`button.conv[data-key="${key}"]`);
}

/** Records the page's SDK events (`window.chat.client`) into `window.sdkLog`. */
export async function recordSdk(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).chat?.client);
  await page.evaluate(() => {
    const w = window as any;
    w.sdkLog = [];
    for (const n of ['connecting', 'connected', 'disconnected', 'closed', 'kicked', 'token']) {
      w.chat.client.on(n, (e: any) => w.sdkLog.push({ n, ...e }));
    }
  });
}

export const sdkLog = (page: Page) => page.evaluate(() => (window as any).sdkLog as Array<Record<string, any>>);
export const sdkState = (page: Page) => page.evaluate(() => (window as any).chat?.client.state as string | undefined);
