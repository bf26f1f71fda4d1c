import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startGateway } from '../../../packages/server/test/helpers.ts';
import { launchChromium } from '../../../test/support/chromium.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { buildExample } from '../src/build.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
const API_KEY = 'react-example-api-key-0123';
const dir = mkdtempSync(join(tmpdir(), 'sb-react-'));
let gw: Gateway;
let site: Server;
let siteUrl: string;
let browser: Browser;

beforeAll(async () => {
  [gw, browser] = await Promise.all([
    // as `npm start`'s gateway: anonymous names, chat:* with history, presence and join/leave
    startGateway({ apiKeys: [API_KEY], auth: { allowAnonymous: true }, namespaces: { chat: { history: { size: 100, ttl: '1h' }, presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true } } }),
    launchChromium(),
    buildExample(dir), // development build: strict mode runs every effect twice
  ]);
  site = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const file = path === '/' ? 'index.html' : path === '/app.js' ? 'app.js' : undefined;
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(join(dir, file)));
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
}, 120_000);
afterAll(async () => {
  await browser?.close();
  site?.close();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

const connectionsOf = (user: string) => [...gw.node.connections].filter((c) => c.user === user && c.state !== 'closed');

async function open(user: string): Promise<Page & { errors: string[] }> {
  const page = (await (await browser.newContext()).newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await page.goto(`${siteUrl}/?user=${user}&gateway=${encodeURIComponent(gw.wsUrl)}`);
  return page;
}

const texts = (page: Page) => page.locator('#messages li').allTextContents();

it('the React example in Chromium (strict mode): one socket per tab, presence, live messages both ways, publish from the server', async () => {
  const ann = await open('ann');
  await expect.poll(() => ann.locator('#connection').textContent(), { timeout: 30_000 }).toBe('Connected as ann');
  await expect.poll(() => ann.locator('#subscription').textContent()).toBe('subscribed');
  const ben = await open('ben');
  await expect.poll(() => ben.locator('#connection').textContent(), { timeout: 30_000 }).toBe('Connected as ben');

  // strict mode mounted every effect twice: still one client, one socket, one subscription each
  expect(connectionsOf('ann')).toHaveLength(1);
  expect(connectionsOf('ben')).toHaveLength(1);
  for (const c of [...connectionsOf('ann'), ...connectionsOf('ben')]) expect([...c.subscriptions.keys()].filter((k) => k.startsWith('chat:'))).toEqual(['chat:lobby']);
  for (const page of [ann, ben]) await expect.poll(() => page.locator('#people li').allTextContents()).toEqual(['ann', 'ben']);

  await ben.getByLabel('Message').fill('hello from ben');
  await ben.getByRole('button', { name: 'Send' }).click();
  for (const page of [ann, ben]) await expect.poll(() => texts(page)).toEqual(['ben hello from ben']);

  // a backend publishes through the server API
  const r = await fetch(`${gw.url}/api/publish`, {
    method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'chat:lobby', data: { text: 'from the backend' } }),
  });
  expect(r.status, await r.clone().text()).toBe(200);
  await ann.getByLabel('Message').fill('hi ben');
  await ann.getByRole('button', { name: 'Send' }).click();
  for (const page of [ann, ben]) await expect.poll(() => texts(page)).toEqual(['ben hello from ben', 'server from the backend', 'ann hi ben']);

  // cat comes later: the room's last messages are there on mount (rewind: 20), each once
  // although strict mode ran the effect twice; then live ones follow
  const cat = await open('cat');
  await expect.poll(() => texts(cat)).toEqual(['ben hello from ben', 'server from the backend', 'ann hi ben']);
  await cat.getByLabel('Message').fill('late but here');
  await cat.getByRole('button', { name: 'Send' }).click();
  for (const page of [ann, cat]) await expect.poll(() => texts(page)).toEqual(['ben hello from ben', 'server from the backend', 'ann hi ben', 'cat late but here']);
  await cat.goto('about:blank');
  expect(cat.errors).toEqual([]);

  // ben leaves: the provider closes its client, the gateway and ann's presence see it
  await ben.goto('about:blank');
  await waitFor(() => connectionsOf('ben').length === 0, 20_000, 'ben\'s socket closed');
  await expect.poll(() => ann.locator('#people li').allTextContents()).toEqual(['ann']);
  expect(ann.errors).toEqual([]);
  expect(ben.errors).toEqual([]);
}, 180_000);
