/**
 * The Vue 3 example in Chromium against a real gateway: two users sign in through the
 * example's Fastify token route, see each other online, exchange private messages both ways;
 * a message sent while its recipient was away is there when they come back (history of the
 * personal channel). The bundle is built once, when the example's server starts.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { SECRET, startGateway } from '../../../packages/server/test/helpers.ts';
import { launchChromium } from '../../../test/support/chromium.ts';
import { startVueExample } from '../src/server.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let site: Awaited<ReturnType<typeof startVueExample>>;
let browser: Browser;

beforeAll(async () => {
  // The namespaces the example needs: presence in dm:*, history in personal channels.
  gw = await startGateway({ namespaces: { dm: { presence: true, joinLeave: true }, '#': { history: { size: 100, ttl: '1h' } } } });
  [site, browser] = await Promise.all([startVueExample({ secret: SECRET, gatewayUrl: gw.wsUrl }), launchChromium()]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await gw?.close();
});

async function signIn(user: string): Promise<Page & { errors: string[] }> {
  const page = (await (await browser.newContext()).newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(site.url);
  await page.getByLabel('Your name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.locator('#connection').textContent(), { timeout: 30_000 }).toBe('connected');
  return page;
}

const texts = (page: Page) => page.locator('#messages li').allTextContents();

it('the token route refuses a bad name and signs a token for a good one', async () => {
  const bad = await fetch(`${site.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'no spaces' }) });
  expect(bad.status).toBe(400);
  const good = await fetch(`${site.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'zoe' }) });
  const { token } = (await good.json()) as { token: string };
  expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'zoe', channels: ['dm:*'] });
});

it('in Chromium: online users, private messages both ways, and one kept for a user who was away', async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  await expect.poll(() => alice.locator('#users li').allTextContents()).toEqual(['bob']);
  await expect.poll(() => bob.locator('#users li').allTextContents()).toEqual(['alice']);

  await alice.getByRole('button', { name: 'bob' }).click();
  await alice.getByLabel('Message').fill('hi bob');
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => texts(alice)).toEqual(['alice hi bob']);
  // bob sees an unread count until he opens the conversation
  await expect.poll(() => bob.locator('#users li').textContent()).toBe('alice1');
  await bob.getByRole('button', { name: /alice/ }).click();
  await expect.poll(() => texts(bob)).toEqual(['alice hi bob']);
  await bob.getByLabel('Message').fill('hello alice');
  await bob.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => texts(alice)).toEqual(['alice hi bob', 'bob hello alice']);

  // bob goes away; alice writes; bob comes back and finds it (his personal channel's history)
  await bob.context().close();
  await expect.poll(() => alice.locator('#users li').allTextContents(), { timeout: 20_000 }).toEqual([]);
  // her conversation with bob stays open: she writes to him while he is offline
  await alice.getByLabel('Message').fill('while you were away');
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => texts(alice)).toEqual(['alice hi bob', 'bob hello alice', 'alice while you were away']);
  const back = await signIn('bob');
  await back.getByRole('button', { name: /alice/ }).click();
  await expect.poll(() => texts(back)).toContain('alice while you were away');
  expect(alice.errors).toEqual([]);
  expect(back.errors).toEqual([]);
}, 120_000);
