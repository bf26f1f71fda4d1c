import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startGateway, token } from '../../server/test/helpers.ts';
import { launchChromium } from '../../../test/support/chromium.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { NAMESPACES, buildClient } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let web: Server;
let origin: string;
let browser: Browser;

/** The page every test opens: loads the browser bundle from a `<script type="module">`. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>sb</title>
<script type="module">
  import { Switchboard } from '/switchboard.mjs';
  window.Switchboard = Switchboard;
  window.loaded = true;
</script>`;

beforeAll(async () => {
  let dist: string;
  [gw, dist, browser] = await Promise.all([startGateway({ namespaces: NAMESPACES }), buildClient(), launchChromium()]);
  const bundle = readFileSync(join(dist, 'switchboard.mjs'));
  web = createServer((req, res) => {
    if (req.url === '/switchboard.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (web) await new Promise((r) => web.close(r));
  await gw?.close();
});

async function open(page: Page): Promise<Page> {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (window as any).loaded === true);
  return page;
}

/** Creates `window.client` in a page (token from localStorage key `auth`) and records its events in `window.log`. */
async function startClient(page: Page, ws: string): Promise<void> {
  await page.evaluate(async (ws) => {
    const w = window as any;
    w.log = [];
    w.client = new w.Switchboard(ws, { tokenStorageKey: 'auth', reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    for (const n of ['connecting', 'connected', 'disconnected', 'closed', 'token', 'error']) {
      w.client.on(n, (e: any) => w.log.push({ n, ...(n === 'error' ? { message: String(e.error?.message) } : e) }));
    }
    await new Promise<void>((resolve) => w.client.once('connected', () => resolve()));
  }, ws);
}

const log = (page: Page) => page.evaluate(() => (window as any).log as Array<Record<string, any>>);
const conns = (user: string) => [...gw.node.connections].filter((c) => c.user === user && c.state === 'ready');
const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp as number;

describe('in Chromium', () => {
  it('the browser bundle works from <script type="module">', async () => {
    const page = await open(await browser.newPage());
    try {
      const out = await page.evaluate(async ({ ws, t }) => {
        const c = new (window as any).Switchboard(ws, { token: t });
        const sub = c.subscribe('chat:browser');
        const got = new Promise<any>((r) => sub.on('message', r));
        await sub.ready();
        const ack = await c.publish('chat:browser', { from: 'chromium' });
        const m = await got;
        c.close();
        return { ack, data: m.data, state: c.state };
      }, { ws: gw.wsUrl, t: await token('browser-user') });
      expect(out).toMatchObject({ ack: { offset: 1, duplicate: false }, data: { from: 'chromium' }, state: 'closed' });
    } finally {
      await page.close();
    }
  });

  it('delta compression in the browser bundle: the page gets full data, the wire carries deltas', async () => {
    const page = await open(await browser.newPage());
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => { if (typeof f.payload === 'string') frames.push(f.payload); }));
    try {
      const out = await page.evaluate(async ({ ws, t }) => {
        const c = new (window as any).Switchboard(ws, { token: t });
        const sub = c.subscribe('doc:browser', { delta: 'fossil' });
        const got: unknown[] = [];
        sub.on('message', (m: any) => got.push(m.data));
        await sub.ready();
        const doc = (n: number) => ({ n, text: 'déjà vu — ünïcode, kept between versions '.repeat(20) });
        for (let n = 1; n <= 10; n++) await c.publish('doc:browser', doc(n));
        while (got.length < 10) await new Promise((r) => setTimeout(r, 10));
        c.close();
        return { same: JSON.stringify(got) === JSON.stringify(Array.from({ length: 10 }, (_, i) => doc(i + 1))), granted: sub.delta };
      }, { ws: gw.wsUrl, t: await token('delta-browser') });
      expect(out).toEqual({ same: true, granted: true });
      const messages = frames.flatMap((f) => { const v = JSON.parse(f); return Array.isArray(v) ? v : [v]; }).filter((f) => f.type === 'message');
      expect(messages).toHaveLength(10);
      expect(messages.slice(1).every((m) => m.delta === true)).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('the browser going offline and online: no attempts while offline, reconnects at once when online', async () => {
    const context = await browser.newContext();
    try {
      const page = await open(await context.newPage());
      await page.evaluate((t) => localStorage.setItem('auth', t), await token('roamer'));
      await page.evaluate(() => localStorage.removeItem('switchboard:session'));
      await page.evaluate((ws) => {
        const w = window as any;
        w.log = [];
        // a backoff of a minute: only the online event can bring it back quickly
        w.client = new w.Switchboard(ws, { tokenStorageKey: 'auth', reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
        for (const n of ['connecting', 'connected', 'disconnected']) w.client.on(n, (e: any) => w.log.push({ n, ...e }));
      }, gw.wsUrl);
      await waitFor(async () => (await log(page)).some((e) => e.n === 'connected'), 5000, 'connected');
      await context.setOffline(true);
      await waitFor(async () => (await log(page)).some((e) => e.n === 'disconnected'), 5000, 'offline noticed');
      expect((await log(page)).find((e) => e.n === 'disconnected')).toMatchObject({ code: 1006, reason: 'network_offline', reconnectInMs: null });
      await context.setOffline(false);
      await waitFor(async () => (await log(page)).filter((e) => e.n === 'connected').length === 2, 5000, 'back online');
      expect((await log(page)).filter((e) => e.n === 'connecting')).toHaveLength(2);
    } finally {
      await context.close();
    }
  });

  it('two tabs: shared session; a token written by another tab refreshes the live connection; removal logs out; a new login reconnects', async () => {
    const context = await browser.newContext();
    try {
      const [a, b] = [await open(await context.newPage()), await open(await context.newPage())];
      const t1 = await token('tabby', { ttlSec: 600 });
      await a.evaluate((t) => localStorage.setItem('auth', t), t1);
      await startClient(a, gw.wsUrl);
      await startClient(b, gw.wsUrl);
      // the session id is kept in localStorage: the second tab resumes the same session
      expect((await log(b)).find((e) => e.n === 'connected')).toMatchObject({ user: 'tabby', resumed: true });
      expect(new Set(conns('tabby').map((c) => c.identity!.session)).size).toBe(1);
      expect(conns('tabby')).toHaveLength(2);

      // tab B's app sets a new token through the SDK: tab A re-authenticates on its live connection
      const t2 = await token('tabby', { ttlSec: 1200 });
      await b.evaluate((t) => (window as any).client.setToken(t), t2);
      await waitFor(async () => (await log(a)).some((e) => e.n === 'token'), 5000, 'tab A refreshed');
      await waitFor(() => conns('tabby').every((c) => c.identity!.expiresAtMs === expOf(t2) * 1000), 5000, 'both connections carry t2');

      // tab B's app writes localStorage itself (seed 000): tab A sees the storage event
      const t3 = await token('tabby', { ttlSec: 1800 });
      await b.evaluate((t) => localStorage.setItem('auth', t), t3);
      await waitFor(async () => (await log(a)).filter((e) => e.n === 'token').length === 2, 5000, 'tab A refreshed again');
      expect((await log(a)).filter((e) => e.n === 'token').at(-1)).toMatchObject({ expiresAt: expOf(t3) });
      expect((await log(a)).filter((e) => e.n === 'connecting')).toHaveLength(1); // never reconnected

      // logout in tab B: both tabs close, the session is forgotten
      await b.evaluate(() => (window as any).client.setToken(null));
      await waitFor(async () => (await log(a)).some((e) => e.n === 'closed'), 5000, 'tab A closed');
      expect((await log(a)).at(-1)).toMatchObject({ n: 'closed', code: 1000, reason: 'logout' });
      expect((await log(b)).at(-1)).toMatchObject({ n: 'closed', reason: 'logout' });
      expect(await a.evaluate(() => localStorage.getItem('switchboard:session'))).toBeNull();
      await waitFor(() => conns('tabby').length === 0, 5000, 'server saw both close');

      // someone logs in (as another user) in tab B: tab A connects again, as that user
      const zed = await token('zed');
      await b.evaluate((t) => localStorage.setItem('auth', t), zed);
      await waitFor(async () => (await log(a)).filter((e) => e.n === 'connected').at(-1)?.user === 'zed', 5000, 'tab A back as zed');
      expect(await a.evaluate(() => (window as any).client.state)).toBe('connected');
    } finally {
      await context.close();
    }
  });
});
