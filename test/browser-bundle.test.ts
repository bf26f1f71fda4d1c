/**
 * The gateway serves the client SDK's browser bundles (`GET /switchboard.js`, `/switchboard.mjs`):
 * a page on another origin with one `<script src>` line connects and receives a publication in
 * Chromium; the files are cacheable (ETag, 304, `?v=<version>` immutable, gzip); a gateway
 * without a built bundle says how to build it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildBrowserBundles } from '../packages/client/scripts/build.ts';
import { createServer as createGateway, type SwitchboardServer } from '@switchboard/server';
import { launchChromium } from './support/chromium.ts';

const VERSION = '0.1.0-bundle-test';
let work: string;
let gw: SwitchboardServer;
let gwUrl: string;
let web: Server;
let pages: Map<string, string>;
let origin: string;
let browser: Browser;

async function startGateway(browserBundleDir: string): Promise<{ server: SwitchboardServer; url: string }> {
  const server = await createGateway({
    browserBundleDir,
    options: {
      port: 0, host: '127.0.0.1', storage: 'memory', logLevel: 'silent',
      auth: { allowAnonymous: true },
      namespaces: { '': {}, news: { history: { size: 10, ttl: '1h' }, allowSubscribe: true } },
    },
  });
  return { server, url: (await server.listen()).url };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sb-bundle-'));
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: '@switchboard/client', version: VERSION }));
  [, browser] = await Promise.all([buildBrowserBundles(join(work, 'dist')), launchChromium()]);
  ({ server: gw, url: gwUrl } = await startGateway(join(work, 'dist')));
  pages = new Map();
  web = createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    if (page) res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (web) await new Promise((r) => web.close(r));
  await gw?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a page on another origin, in Chromium', () => {
  it('with only <script src=".../switchboard.js"> connects and receives a publication', async () => {
    pages.set('/classic', `<!doctype html><meta charset="utf-8"><title>classic</title>
<p id="status">connecting…</p><ul id="messages"></ul>
<script src="${gwUrl}/switchboard.js"></script>
<script>
  const client = new Switchboard('${gwUrl.replace('http', 'ws')}/ws', { name: 'script-tag' });
  client.on('connected', ({ user }) => { document.getElementById('status').textContent = 'connected as ' + user; });
  const news = client.subscribe('news:ticker');
  news.on('message', (m) => {
    const li = document.createElement('li');
    li.textContent = m.data.text;
    document.getElementById('messages').append(li);
  });
  news.ready().then(() => { document.body.dataset.subscribed = 'yes'; });
</script>`);
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/classic`);
      await page.waitForSelector('body[data-subscribed="yes"]');
      expect(await page.textContent('#status')).toBe('connected as script-tag');
      await gw.node.publish(gw.node.resolve('news:ticker'), { text: 'hello, script tag' });
      await page.waitForSelector('#messages li');
      expect(await page.textContent('#messages li')).toBe('hello, script tag');
      // The global is the class, with the SDK's other exports as its properties.
      expect(await page.evaluate(() => typeof (window as any).Switchboard.SwitchboardError)).toBe('function');
    } finally {
      await page.close();
    }
  });

  it('imports { Switchboard } from ".../switchboard.mjs" (a module script from another origin)', async () => {
    pages.set('/module', `<!doctype html><meta charset="utf-8"><title>module</title>
<script type="module">
  import { Switchboard } from '${gwUrl}/switchboard.mjs?v=${VERSION}';
  const client = new Switchboard('${gwUrl.replace('http', 'ws')}/ws', { name: 'module-user' });
  client.on('connected', ({ user }) => { document.title = 'connected as ' + user; });
</script>`);
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/module`);
      await page.waitForFunction(() => document.title === 'connected as module-user');
    } finally {
      await page.close();
    }
  });
});

describe('GET /switchboard.js and /switchboard.mjs', () => {
  it('are JavaScript with an ETag, revalidated when unversioned, immutable at ?v=<version>', async () => {
    const js = await fetch(`${gwUrl}/switchboard.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate');
    expect(js.headers.get('x-switchboard-client-version')).toBe(VERSION);
    expect(js.headers.get('access-control-allow-origin')).toBe('*');
    const etag = js.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(await js.text()).toContain('Switchboard');

    const again = await fetch(`${gwUrl}/switchboard.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    const pinned = await fetch(`${gwUrl}/switchboard.mjs?v=${VERSION}`);
    expect(pinned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(pinned.headers.get('etag')).not.toBe(etag);
    const other = await fetch(`${gwUrl}/switchboard.mjs?v=0.0.1`);
    expect(other.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate');
    expect(await fetch(`${gwUrl}/switchboard.js.map`).then((r) => r.status)).toBe(200);
  });

  it('are sent gzipped to a client that accepts it', async () => {
    const { request } = await import('node:http');
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request(`${gwUrl}/switchboard.js`, { headers: { 'accept-encoding': 'gzip' } }, resolve).on('error', reject).end();
    });
    res.resume();
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toContain('accept-encoding');
  });

  it('a gateway whose bundle is not built answers 404 saying how to build it', async () => {
    const missing = await startGateway(join(work, 'nothing-here'));
    try {
      const res = await fetch(`${missing.url}/switchboard.js`);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('not_found');
      expect(body.error.message).toMatch(/browser bundle is not built .*npm run build/);
    } finally {
      await missing.server.close();
    }
  });
});
