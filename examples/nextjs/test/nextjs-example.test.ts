/**
 * The Next.js (App Router) example in Chromium against a real gateway: `next dev` (Turbopack
 * compiles the page on its first request), the page fetches a token from the app's route
 * handler, connects, subscribes to news:ticker and shows what a backend publishes through the
 * HTTP API; the gateway's secret, which the route signs with, is in nothing the browser loads.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { SECRET, startGateway } from '../../../packages/server/test/helpers.ts';
import { launchChromium } from '../../../test/support/chromium.ts';
import { freePort } from '../../../test/support/ports.ts';
import { startNextExample } from '../src/next-dev.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
const API_KEY = 'nextjs-example-api-key-0123';
let gw: Gateway;
let site: Awaited<ReturnType<typeof startNextExample>>;
let browser: Browser;
const log: string[] = [];

beforeAll(async () => {
  // news:* as `switchboard init` writes it: history, subscribe with a token, publish from the backend
  gw = await startGateway({ apiKeys: [API_KEY], namespaces: { news: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, clientPublish: false } } });
  [site, browser] = await Promise.all([
    startNextExample({ secret: SECRET, gatewayUrl: gw.wsUrl, port: await freePort(), onLog: (line) => log.push(line) }),
    launchChromium(),
  ]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await gw?.close();
});

it('the token route refuses a bad name and signs a token for a good one', async () => {
  expect((await fetch(`${site.url}/api/token?user=no%20spaces`)).status).toBe(400);
  const good = await fetch(`${site.url}/api/token?user=zoe`);
  expect(good.status, log.join('\n')).toBe(200);
  const { token } = (await good.json()) as { token: string };
  expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'zoe', channels: ['news:*'] });
}, 120_000);

it('in Chromium: the page connects with the route’s token and shows a publication from the HTTP API', async () => {
  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // everything the browser loads: the gateway's secret must not be in any of it
  const bodies: Array<Promise<string>> = [];
  page.on('response', (res) => bodies.push(res.text().catch(() => '')));
  // the first request compiles the page: slow on a loaded machine
  await page.goto(`${site.url}/?user=ann`, { timeout: 120_000 });
  await expect.poll(() => page.locator('#connection').textContent(), { timeout: 60_000 }).toBe('connected');
  await expect.poll(() => page.locator('#subscription').textContent()).toBe('subscribed');
  expect([...gw.node.connections].filter((c) => c.user === 'ann' && c.state !== 'closed')).toHaveLength(1);

  const r = await fetch(`${gw.url}/api/publish`, {
    method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'news:ticker', data: { text: 'markets open' } }),
  });
  expect(r.status, await r.clone().text()).toBe(200);
  await expect.poll(() => page.locator('#messages li').allTextContents()).toEqual(['markets open']);
  expect(errors).toEqual([]);
  const loaded = await Promise.all(bodies);
  expect(loaded.join('').length).toBeGreaterThan(1000);
  expect(loaded.filter((b) => b.includes(SECRET))).toEqual([]);
}, 180_000);
