import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { Switchboard, MemoryStorage } from '@switchboard/client';
import { mintToken } from '@switchboard/server';
import { ensureAdminUi } from '../packages/server/admin-ui/build.ts';
import { launchChromium } from './support/chromium.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { ADMIN_PASSWORD, adminLogIn, adminSection, openAdmin, paintedPixels, screenshotPath } from './support/admin-page.ts';

const SECRET = 'admin-ui-test-secret-0123456789';
const CONFIG = fileURLToPath(new URL('../examples/chat/switchboard.config.json', import.meta.url));

let gateway: GatewayProcess;
let browser: Browser;
let context: BrowserContext;
const clients: Switchboard[] = [];

beforeAll(async () => {
  await ensureAdminUi();
  [gateway, browser] = await Promise.all([
    startGatewayProcess({ args: ['--config', CONFIG, '--jwt-secret', SECRET, '--storage', 'memory'], env: { SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD } }),
    launchChromium(),
  ]);
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
}, 120_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await context?.close();
  await browser?.close();
  await gateway?.stop();
});

/** A real SDK client of `user`, connected, subscribed to `channel`; records how it was closed. */
async function client(user: string, channel: string): Promise<Switchboard & { closedWith?: number }> {
  const token = await mintToken({ sub: user, secret: SECRET, ttlSec: 3600, channels: ['chat:*'], publish: ['chat:*'] });
  const c = new Switchboard(gateway.wsUrl, { token, storage: new MemoryStorage(), window: null }) as Switchboard & { closedWith?: number };
  clients.push(c);
  c.on('closed', (e) => (c.closedWith = e.code));
  const sub = c.subscribe(channel);
  await new Promise<void>((resolve, reject) => {
    sub.on('subscribed', () => resolve());
    sub.on('error', (e) => reject(new Error(JSON.stringify(e))));
  });
  return c;
}

describe('the admin UI in Chromium', () => {
  it('refuses a wrong password; shows live charts, nodes, a just-subscribed channel and its user; disconnects the user', async () => {
    const alice = await client('alice', 'chat:lobby');
    // some traffic for the charts (publications, deliveries, bytes, the delivery p99)
    for (let i = 1; i <= 20; i++) await alice.publish('chat:lobby', { text: `warm-up ${i}` });
    const page = await openAdmin(context, gateway.url);

    await page.getByLabel('Admin password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong password.');
    expect(await page.getByRole('navigation', { name: 'Admin sections' }).count()).toBe(0);

    await adminLogIn(page);
    // Overview: the live totals count alice's connection, and every chart draws
    await expect.poll(() => page.locator('#total-connections').textContent()).toBe('1');
    await expect.poll(async () => (await page.evaluate(() => [...(window.adminCharts?.values() ?? [])].map((u) => u.data[0].length))).every((n) => n >= 2), { timeout: 20_000 }).toBe(true);
    expect(await page.evaluate(() => window.adminCharts?.size)).toBe(5);
    await expect.poll(async () => (await paintedPixels(page)).filter((n) => n > 0).length).toBe(5);
    await page.screenshot({ path: screenshotPath('admin-overview.png') });

    // Errors by code: a client asking for a namespace that is not configured gets unknown_channel
    const lost = await client('bob', 'chat:lobby');
    for (let i = 0; i < 3; i++) await lost.subscribe(`nope:${i}`).ready().catch(() => {});
    await expect.poll(() => page.locator('figure[aria-label^="Errors per second, by code"]').getAttribute('aria-label'), { timeout: 20_000 }).toMatch(/unknown_channel/);
    lost.close();
    // Time axes stay readable at any width: labels at least 70 px apart (one is about 60 px wide)
    for (const width of [1280, 420]) {
      await page.setViewportSize({ width, height: 860 });
      await expect.poll(() => page.evaluate((w) => [...(window.adminTimeLabels?.values() ?? [])].every((a) => a.width > 0 && a.width < w), width)).toBe(true);
      const axes = await page.evaluate(() => [...(window.adminTimeLabels?.values() ?? [])]);
      expect(axes).toHaveLength(5);
      for (const a of axes) {
        expect(a.labels.length).toBeGreaterThan(0);
        expect(a.labels.length).toBeLessThanOrEqual(Math.floor(a.width / 70) + 1);
        for (const l of a.labels) expect(l).toMatch(/^\d\d:\d\d:\d\d$/);
      }
    }
    await page.setViewportSize({ width: 1280, height: 860 });
    // Hidden (another tab): no poll waits for its turn; shown again: polling resumes at once
    const setVisibility = (state: 'hidden' | 'visible') => page.evaluate((v) => {
      Object.defineProperty(document, 'visibilityState', { value: v, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
    await expect.poll(() => page.evaluate(() => window.adminPolling ?? 0)).toBeGreaterThan(0);
    await setVisibility('hidden');
    await expect.poll(() => page.evaluate(() => window.adminPolling ?? 0)).toBe(0);
    const overviews = () => page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/admin/api/overview')).length);
    const hiddenCount = await overviews();
    await setVisibility('visible');
    await expect.poll(overviews).toBeGreaterThan(hiddenCount);
    await expect.poll(() => page.evaluate(() => window.adminPolling ?? 0)).toBeGreaterThan(0);

    await adminSection(page, 'Nodes');
    await expect.poll(() => page.locator('#nodes tbody tr').count()).toBe(1);
    expect(await page.locator('#nodes tbody tr').textContent()).toContain('ok');

    // Channels: the channel alice subscribed to, with her in its presence
    await adminSection(page, 'Channels');
    await page.getByRole('button', { name: 'chat:lobby' }).click();
    await expect.poll(() => page.locator('#channel-subscribers').textContent()).toBe('1 subscriber');
    await expect.poll(() => page.locator('#channel-presence').textContent()).toContain('alice');
    await page.getByLabel('Publish a message (JSON)').fill('{"text":"maintenance at noon"}');
    const received = new Promise<unknown>((resolve) => alice.getSubscription('chat:lobby')!.on('message', (m) => resolve(m.data)));
    await page.getByRole('button', { name: 'Publish to chat:lobby' }).click();
    expect(await received).toEqual({ text: 'maintenance at noon' });
    await expect.poll(() => page.locator('#channel-history').textContent()).toContain('maintenance at noon');
    await page.screenshot({ path: screenshotPath('admin-channels.png') });

    // Users: alice's live connection, then disconnect her: the real client is closed
    await adminSection(page, 'Users');
    await expect.poll(() => page.locator('#connections tbody').textContent()).toContain('alice');
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.locator('#connections tbody tr').count()).toBe(1);
    const row = page.locator('#connections tbody tr').first();
    expect(await row.textContent()).toMatch(/alice.*websocket.*127\.0\.0\.1.*chat:lobby/);
    await page.screenshot({ path: screenshotPath('admin-users.png') });
    await page.getByRole('button', { name: 'Disconnect alice' }).click();
    await page.getByRole('button', { name: 'Yes, disconnect' }).click();
    await expect.poll(() => alice.closedWith).toBe(3503);
    await expect.poll(() => page.locator('#connections tbody tr').count()).toBe(0);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Disconnected alice');

    // Block: the user's state says so and the client's reconnection is refused; then unblock
    await page.getByRole('button', { name: 'Block alice' }).click();
    await page.getByLabel('For', { exact: true }).selectOption({ label: '1 hour' });
    await page.getByLabel('Reason (for operators)').fill('spam');
    await page.getByRole('button', { name: 'Yes, block' }).click();
    await expect.poll(() => page.locator('#user-access').textContent()).toMatch(/^Blocked until .* \(spam\)\./);
    const again = new Switchboard(gateway.wsUrl, { token: await mintToken({ sub: 'alice', secret: SECRET, ttlSec: 3600 }), storage: new MemoryStorage(), window: null });
    clients.push(again);
    expect(await new Promise<number>((resolve) => again.on('closed', (e) => resolve(e.code)))).toBe(3502);
    await page.getByRole('button', { name: 'Unblock alice' }).click();
    await page.getByRole('button', { name: 'Yes, unblock' }).click();
    await expect.poll(() => page.locator('#user-access').textContent()).toMatch(/^Not blocked\./);

    // Live: what happened to connections, newest first: alice joined, was disconnected (3503),
    // was refused while blocked (3502); a bad token is refused (3500); a new client joins live
    await adminSection(page, 'Live');
    const rows = () => page.locator('#live-events tbody tr').allTextContents();
    await expect.poll(async () => (await rows()).join('\n')).toMatch(/joined\s*alice/);
    await expect.poll(async () => (await rows()).join('\n')).toMatch(/left\s*alice\s*3503 forced/);
    await expect.poll(async () => (await rows()).join('\n')).toMatch(/refused\s*–\s*3502 blocked/);
    const forged = new Switchboard(gateway.wsUrl, { token: 'not.a.jwt', storage: new MemoryStorage(), window: null });
    clients.push(forged);
    await expect.poll(async () => (await rows())[0]).toMatch(/refused\s*–\s*3500 invalid_token/);
    await client('carol', 'chat:lobby');
    await expect.poll(async () => (await rows())[0]).toMatch(/joined\s*carol\s*websocket/);
    expect((await rows()).length).toBeLessThanOrEqual(100);

    expect(page.problems).toEqual([]);
  }, 240_000);
});
