import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startHttpProxy, type HttpProxy } from './support/http-proxy.ts';
import { launchChromium } from './support/chromium.ts';
import { startGateway, token, connectAuthed } from '../packages/server/test/helpers.ts';
import { NAMESPACES, buildClient } from '../packages/client/test/helpers.ts';

/**
 * The SDK where WebSocket is blocked, in Chromium: the browser bundle on a page of another
 * origin, two gateway nodes on a real redis-server behind a proxy that refuses every upgrade
 * and round-robins plain HTTP (no stickiness), and behind one that also buffers responses.
 */
let redis: RedisProcess;
let nodes: Array<Awaited<ReturnType<typeof startGateway>>>;
let proxy: HttpProxy;
let buffering: HttpProxy;
let web: Server;
let origin: string;
let browser: Browser;

const PAGE = `<!doctype html><meta charset="utf-8"><title>sb</title>
<script type="module">
  import { Switchboard } from '/switchboard.mjs';
  window.Switchboard = Switchboard;
  window.loaded = true;
</script>`;

beforeAll(async () => {
  let dist: string;
  redis = await startRedis();
  [nodes, dist, browser] = await Promise.all([
    Promise.all([0, 1].map(() => startGateway({ redis: redis.url, storage: 'redis', namespaces: NAMESPACES, transports: { pollTimeoutMs: 3000 } }))),
    buildClient(),
    launchChromium(),
  ]);
  const targets = nodes.map((n) => n.url);
  [proxy, buffering] = await Promise.all([startHttpProxy({ targets }), startHttpProxy({ targets, buffer: true })]);
  const bundle = readFileSync(join(dist, 'switchboard.mjs'));
  web = createServer((req, res) => {
    if (req.url === '/switchboard.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (web) await new Promise((r) => web.close(r));
  await Promise.all([proxy?.close(), buffering?.close()]);
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await redis?.stop();
});

async function page(): Promise<Page> {
  const p = await browser.newPage();
  await p.goto(`${origin}/`);
  await p.waitForFunction(() => (window as any).loaded === true);
  return p;
}

/** Starts `window.c` subscribed to `channel`, collecting message data in `window.got`; resolves with its transport. */
function start(p: Page, ws: string, t: string, channel: string, transports?: string[]): Promise<string> {
  return p.evaluate(async ({ ws, t, channel, transports }) => {
    const w = window as any;
    w.got = [];
    w.drops = 0;
    w.c = new w.Switchboard(ws, { token: t, fallbackTimeoutMs: 2500, connectTimeoutMs: 15_000, reconnect: { minDelayMs: 50, maxDelayMs: 300 }, ...(transports ? { transports } : {}) });
    w.c.on('disconnected', () => w.drops++);
    const sub = w.c.subscribe(channel);
    sub.on('message', (m: any) => w.got.push(m.data));
    await sub.ready();
    return w.c.transport as string;
  }, { ws, t, channel, transports });
}

async function publishFrom(node: number, channel: string, from: number, n: number): Promise<void> {
  const pub = await connectAuthed(nodes[node]!.wsUrl, 'publisher');
  for (let i = from; i < from + n; i++) pub.send({ type: 'publish', id: `p${i}`, channel, data: i });
  await pub.next((f) => f.type === 'ack' && f.id === `p${from + n - 1}`, 30_000);
  pub.close();
}

const got = (p: Page) => p.evaluate(() => (window as any).got as number[]);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('in Chromium, behind a proxy that refuses upgrades and round-robins two nodes', () => {
  it.each([[undefined, 'http-stream'], [['sse'], 'sse']] as const)('transports %j: connects by %s, 100 publications once in order, acked publish, recovery across a dropped stream', async (transports, expected) => {
    const channel = `chat:browser-${expected}`;
    const before = [...proxy.hits];
    const p = await page();
    try {
      expect(await start(p, proxy.wsUrl, await token(`b-${expected}`), channel, transports as string[] | undefined)).toBe(expected);
      await publishFrom(1, channel, 0, 100);
      await expect.poll(() => got(p), { timeout: 30_000 }).toEqual(upTo(100));
      const ack = await p.evaluate((ch) => (window as any).c.publish(ch, 'mine'), channel);
      expect(ack.offset).toBe(101);
      expect(proxy.hits.every((h, i) => h > before[i]!)).toBe(true);
      // the stream drops; what is published meanwhile is recovered by offset
      proxy.cut();
      await publishFrom(0, channel, 102, 50);
      await expect.poll(() => got(p), { timeout: 30_000 }).toEqual([...upTo(100), 'mine', ...Array.from({ length: 50 }, (_, i) => 102 + i)]);
      expect(await p.evaluate(() => (window as any).drops)).toBeGreaterThan(0);
      expect(await p.evaluate(() => (window as any).c.transport)).toBe(expected);
    } finally {
      await p.close();
    }
  }, 120_000);
});

describe('in Chromium, a burst of 300 publish() at once over each fallback transport', () => {
  it.each(['http-stream', 'sse', 'long-polling'])('%s: every publication acknowledged in order, no reconnect', async (kind) => {
    const channel = `chat:burst-${kind}`;
    const p = await page();
    try {
      expect(await start(p, proxy.wsUrl, await token(`burst-${kind}`), channel, [kind])).toBe(kind);
      const offsets = await p.evaluate(async (ch) => {
        const w = window as any;
        const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => w.c.publish(ch, i)));
        return acks.map((a: any) => a.offset);
      }, channel);
      expect(offsets).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      await expect.poll(() => got(p), { timeout: 30_000 }).toEqual(upTo(300));
      expect(await p.evaluate(() => (window as any).drops)).toBe(0);
    } finally {
      await p.close();
    }
  }, 120_000);
});

describe('in Chromium, behind a proxy that also buffers every response', () => {
  it('connects by long-polling, receives in order and publishes with an acknowledgement', async () => {
    const p = await page();
    try {
      expect(await start(p, buffering.wsUrl, await token('b-buffered'), 'chat:browser-buffered')).toBe('long-polling');
      await publishFrom(0, 'chat:browser-buffered', 0, 100);
      await expect.poll(() => got(p), { timeout: 30_000 }).toEqual(upTo(100));
      const ack = await p.evaluate(() => (window as any).c.publish('chat:browser-buffered', 'mine'));
      expect(ack.offset).toBe(101);
    } finally {
      await p.close();
    }
  }, 120_000);
});
