import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';

/** The admin password the admin UI tests start gateways with. */
export const ADMIN_PASSWORD = 'admin-ui-test-password';

/**
 * Where a screenshot of the admin UI goes: test-results/ on every run, docs/images/ (the
 * copies docs/admin.md shows) only with SWITCHBOARD_UPDATE_SCREENSHOTS=1.
 */
export function screenshotPath(name: string): string {
  const dir = process.env.SWITCHBOARD_UPDATE_SCREENSHOTS === '1' ? '../../docs/images/' : '../../test-results/';
  const path = fileURLToPath(new URL(`${dir}${name}`, import.meta.url));
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/** A page of the admin UI that records page errors and console errors (CSP violations are those). */
export async function openAdmin(context: BrowserContext, url: string): Promise<Page & { problems: string[] }> {
  const page = await context.newPage() as Page & { problems: string[] };
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${url}/admin/`);
  return page;
}

/** Logs in through the form and waits for the admin navigation. */
export async function adminLogIn(page: Page, password = ADMIN_PASSWORD): Promise<void> {
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Admin sections' }).waitFor();
}

/** Goes to one section of the admin UI through its navigation link. */
export async function adminSection(page: Page, name: 'Overview' | 'Nodes' | 'Channels' | 'Users' | 'Live'): Promise<void> {
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name }).click();
  await expect.poll(() => page.locator('main h1').textContent()).toBe(name);
}

/**
 * How many pixels of each chart canvas are painted, once every chart has data: uPlot draws
 * its lines and grid onto the canvas, so an empty chart has no painted pixel.
 */
export async function paintedPixels(page: Page): Promise<number[]> {
  return page.evaluate(() => [...document.querySelectorAll<HTMLCanvasElement>('.chart-box canvas')].map((c) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  }));
}
