import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { Switchboard, MemoryStorage } from '@switchboard/client';
import { mintToken } from '@switchboard/server';
import { ensureAdminUi } from '../packages/server/admin-ui/build.ts';
import { launchChromium } from './support/chromium.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { ADMIN_PASSWORD, adminLogIn, adminSection, openAdmin } from './support/admin-page.ts';

const SECRET = 'admin-cluster-secret-0123456789';

let redis: RedisProcess;
let nodes: GatewayProcess[] = [];
let browser: Browser;
let bob: Switchboard | undefined;

beforeAll(async () => {
  await ensureAdminUi();
  [redis, browser] = await Promise.all([startRedis(), launchChromium()]);
  const args = ['--redis', redis.url, '--jwt-secret', SECRET];
  const env = { SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD };
  // Only the first node serves the page; the second one has no password, yet shows up on it.
  nodes = await Promise.all([startGatewayProcess({ args, env }), startGatewayProcess({ args })]);
}, 120_000);
afterAll(async () => {
  bob?.close();
  await browser?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.stop();
});

describe('the admin UI in cluster mode', () => {
  it("one node's page shows both nodes and a user connected to the other node", async () => {
    const [a, b] = nodes as [GatewayProcess, GatewayProcess];
    expect((await fetch(`${b.url}/admin/`)).status).toBe(404);
    const token = await mintToken({ sub: 'bob', secret: SECRET, ttlSec: 3600 });
    bob = new Switchboard(b.wsUrl, { token, storage: new MemoryStorage(), window: null });
    await new Promise<void>((resolve) => bob!.on('connected', () => resolve()));

    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await openAdmin(context, a.url);
    await adminLogIn(page);
    await expect.poll(() => page.locator('#total-nodes').textContent(), { timeout: 20_000 }).toBe('2');
    await expect.poll(() => page.locator('#total-connections').textContent(), { timeout: 20_000 }).toBe('1');

    await adminSection(page, 'Nodes');
    await expect.poll(() => page.locator('#nodes tbody tr').count()).toBe(2);
    await expect.poll(async () => (await page.locator('#nodes tbody tr').allTextContents()).every((t) => t.includes('redis') && t.includes('ok'))).toBe(true);
    const nodeIds = await page.locator('#nodes tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')));

    await adminSection(page, 'Users');
    await expect.poll(() => page.locator('#connections tbody').textContent()).toContain('bob');
    const bobNode = await page.locator('#connections tbody tr').first().locator('td').first().textContent();
    expect(nodeIds).toContain(bobNode);
    // bob is on the node without the page: disconnecting him from here closes his client there
    const closed = new Promise<number>((resolve) => bob!.on('closed', (e) => resolve(e.code)));
    await page.getByLabel('User id').fill('bob');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('button', { name: 'Disconnect bob' }).click();
    await page.getByRole('button', { name: 'Yes, disconnect' }).click();
    expect(await closed).toBe(3503);
    expect(page.problems).toEqual([]);
    await context.close();
  }, 240_000);
});
