import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

const SECRET = 'webhook-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sb-webhooks-'));
type Verify = (secret: string, headers: Record<string, unknown>, raw: string, toleranceSec?: number) => boolean;
let verify: Verify;
const receiver = new WebhookReceiver();
const clients: RawClient[] = [];
let db = 0;

/** The verification snippet of docs/webhooks.md, exactly as documented. */
async function loadDocSnippet(): Promise<Verify> {
  const doc = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
  const m = /<!-- verify-snippet[^\n]*-->\n```js\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/webhooks.md has no verify-snippet block');
  const file = join(dir, 'verify.mjs');
  writeFileSync(file, m[1]!);
  return (await import(pathToFileURL(file).href)).verifySwitchboardWebhook;
}

function gateway(file: string, extra: Record<string, unknown> = {}) {
  return startGateway({
    storage: `sqlite:${join(dir, file)}`,
    presence: { offlineGraceMs: 100 },
    namespaces: { chat: { allowSubscribe: true, allowPublish: true, publicationWebhooks: true }, live: { allowSubscribe: true, allowPublish: true } },
    webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 50, maxRetryDelayMs: 200, events: ['user.online', 'user.offline', 'channel.occupied', 'channel.vacated', 'publication'] },
    ...extra,
  });
}

beforeAll(async () => {
  await receiver.start();
  verify = await loadDocSnippet();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  receiver.deliveries.length = 0;
  receiver.answer = () => 204;
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const byN = (events: any[], c: string) => events.filter((e) => e.channel === `chat:${c}`).map((e) => e.publication.data.n);

describe('webhooks', () => {
  it('a backend receives signed online/occupied and offline/vacated webhooks despite two 500 answers', async () => {
    let refused = 0;
    receiver.answer = (_n, body) => (body.type === 'user.online' && refused++ < 2 ? 500 : 204);
    const gw = await gateway(`w${db++}.db`);
    try {
      const alice = await connectAuthed(gw.wsUrl, 'alice');
      expect((await alice.request({ type: 'subscribe', channel: 'chat:lobby' })).type).toBe('ack');
      await receiver.until(() => receiver.accepted().length >= 2);
      alice.close();
      await receiver.until(() => receiver.accepted().length >= 4);
      const accepted = receiver.accepted();
      // In order per user and per channel (a channel's events and a user's go in parallel).
      expect(accepted.filter((e) => e.user).map((e) => [e.type, e.user])).toEqual([['user.online', 'alice'], ['user.offline', 'alice']]);
      expect(accepted.filter((e) => e.channel).map((e) => [e.type, e.channel])).toEqual([['channel.occupied', 'chat:lobby'], ['channel.vacated', 'chat:lobby']]);
      // user.online was refused twice, then accepted: three deliveries of one id, and alice's offline only after.
      const online = accepted.find((e) => e.type === 'user.online');
      const ofAlice = receiver.deliveries.filter((d) => d.body.user === 'alice');
      expect(ofAlice.map((d) => [d.status, d.body.id])).toEqual([[500, online.id], [500, online.id], [204, online.id], [204, accepted.find((e) => e.type === 'user.offline').id]]);
      for (const d of receiver.deliveries) {
        expect(verify(SECRET, d.headers, d.raw)).toBe(true);
        expect(verify('another-secret-0123456789', d.headers, d.raw)).toBe(false);
        expect(verify(SECRET, d.headers, d.raw.replace('"ts"', '"tz"'))).toBe(false);
        expect(d.headers['x-switchboard-event']).toBe(d.body.type);
        expect(d.headers['x-switchboard-event-id']).toBe(d.body.id);
      }
      for (const e of accepted) expect(e).toMatchObject({ id: expect.stringMatching(/^evt_/), ts: expect.any(Number) });
      expect(new Set(accepted.map((e) => e.id)).size).toBe(4);
      expect(verify(SECRET, { ...receiver.deliveries[0]!.headers, 'x-switchboard-timestamp': String(Math.floor(Date.now() / 1000) - 3600) }, receiver.deliveries[0]!.raw)).toBe(false);
      // Prometheus: this node's accepted and failed deliveries, and an empty outbox.
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/^switchboard_webhooks_delivered_total 4$/m);
      expect(metrics).toMatch(/^switchboard_webhooks_failed_total 2$/m);
      expect(metrics).toMatch(/^switchboard_webhooks_dropped_total 0$/m);
      expect(metrics).toMatch(/^switchboard_webhooks_queued 0$/m);
    } finally {
      await gw.close();
    }
  });

  it('publications only where the namespace opts in; not for duplicates', async () => {
    const gw = await gateway(`w${db++}.db`, { webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 50, events: ['publication'] } });
    try {
      const bob = await connectAuthed(gw.wsUrl, 'bob');
      clients.push(bob);
      await bob.request({ type: 'publish', channel: 'live:x', data: 'not sent' });
      await bob.request({ type: 'publish', id: 'p1', channel: 'chat:x', data: { text: 'sent' } });
      await bob.request({ type: 'publish', id: 'p1', channel: 'chat:x', data: { text: 'sent' } });
      await bob.request({ type: 'publish', channel: 'chat:x', data: 'marker' });
      await receiver.until(() => receiver.accepted().length >= 2);
      expect(receiver.accepted().map((e) => [e.type, e.channel, e.publication.data, e.publication.from])).toEqual([
        ['publication', 'chat:x', { text: 'sent' }, 'bob'], ['publication', 'chat:x', 'marker', 'bob'],
      ]);
    } finally {
      await gw.close();
    }
  });

  it('events wait in the SQLite outbox across a restart: none is lost while the receiver is down', async () => {
    receiver.answer = () => 503;
    const file = `w${db++}.db`;
    let gw = await gateway(file, { webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 50, maxRetryDelayMs: 100, events: ['user.online'] } });
    const carol = await connectAuthed(gw.wsUrl, 'carol');
    clients.push(carol);
    await receiver.until(() => receiver.deliveries.length >= 2);
    await gw.close();
    receiver.answer = () => 200;
    const seen = receiver.deliveries.length;
    gw = await gateway(file, { webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 50, events: ['user.online'] } });
    try {
      await receiver.until(() => receiver.accepted().length >= 1);
      expect(receiver.accepted().map((e) => [e.type, e.user])).toEqual([['user.online', 'carol']]);
      expect(receiver.deliveries.length).toBeGreaterThan(seen);
    } finally {
      await gw.close();
    }
  });

  it('a full outbox (webhooks.maxQueued) drops new events, counted, and keeps the ones it holds in order', async () => {
    receiver.answer = () => 503;
    const gw = await gateway(`w${db++}.db`, { webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 50, maxRetryDelayMs: 100, events: ['publication'], maxQueued: 3 } });
    try {
      const dave = await connectAuthed(gw.wsUrl, 'dave');
      clients.push(dave);
      for (let n = 1; n <= 8; n++) expect((await dave.request({ type: 'publish', channel: 'chat:full', data: { n } })).type).toBe('ack');
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/^switchboard_webhooks_queued 3$/m);
      expect(metrics).toMatch(/^switchboard_webhooks_dropped_total 5$/m);
      receiver.answer = () => 204;
      await receiver.until(() => receiver.accepted().length >= 3);
      expect(receiver.accepted().map((e) => e.publication.data.n)).toEqual([1, 2, 3]);
    } finally {
      await gw.close();
    }
  });

  it('in parallel, in order per channel: a channel whose receiver fails holds up only its own events; batches (webhooks.batch) are signed, in order', async () => {
    // chat:slow's receiver refuses until every other channel's events arrived: they must not wait behind it.
    receiver.answer = (_n, body) => (body.channel === 'chat:slow' && receiver.accepted().length < 15 ? 503 : 204);
    const gw = await gateway(`w${db++}.db`, { webhooks: { url: receiver.url, secret: SECRET, retryDelayMs: 100, maxRetryDelayMs: 200, events: ['publication'], concurrency: 8 } });
    try {
      const erin = await connectAuthed(gw.wsUrl, 'erin');
      clients.push(erin);
      for (let n = 0; n < 5; n++) for (const c of ['slow', 'a', 'b', 'c']) expect((await erin.request({ type: 'publish', channel: `chat:${c}`, data: { n } })).type).toBe('ack');
      await receiver.until(() => receiver.accepted().length >= 20);
      const byChannel = (events: any[], c: string) => events.filter((e) => e.channel === `chat:${c}`).map((e) => e.publication.data.n);
      for (const c of ['slow', 'a', 'b', 'c']) expect(byChannel(receiver.accepted(), c)).toEqual([0, 1, 2, 3, 4]);
      // chat:slow was refused, retried, and none of its later events was sent before its first was accepted.
      const slow = receiver.deliveries.filter((d) => d.body.channel === 'chat:slow');
      expect(slow[0]!.status).toBe(503);
      const firstOk = slow.findIndex((d) => d.status === 204);
      expect(slow.slice(0, firstOk + 1).every((d) => d.body.publication.data.n === 0)).toBe(true);
    } finally {
      await gw.close();
    }
    receiver.deliveries.length = 0;
    receiver.answer = () => 204;
    const batched = await gateway(`w${db++}.db`, { webhooks: { url: receiver.url, secret: SECRET, events: ['publication'], batch: 50 } });
    try {
      const erin = await connectAuthed(batched.wsUrl, 'erin');
      clients.push(erin);
      for (let n = 0; n < 30; n++) expect((await erin.request({ type: 'publish', channel: `chat:${n % 3}`, data: { n } })).type).toBe('ack');
      await receiver.until(() => receiver.deliveries.reduce((sum, d) => sum + d.body.events.length, 0) >= 30);
      const events = receiver.deliveries.flatMap((d) => d.body.events);
      for (const c of ['0', '1', '2']) expect(byN(events, c)).toEqual(Array.from({ length: 10 }, (_, i) => i * 3 + Number(c)));
      expect(new Set(events.map((e: any) => e.id)).size).toBe(30);
      for (const d of receiver.deliveries) {
        expect(verify(SECRET, d.headers, d.raw)).toBe(true);
        expect(d.headers['x-switchboard-event']).toBe('batch');
        expect(d.headers['x-switchboard-batch-size']).toBe(String(d.body.events.length));
        expect(d.body.events[0]).toMatchObject({ id: expect.stringMatching(/^evt_/), type: 'publication' });
      }
    } finally {
      await batched.close();
    }
  });

  it('refuses webhooks.url without a secret, naming the key', async () => {
    await expect(startGateway({ webhooks: { url: receiver.url } })).rejects.toThrow(/webhooks\.secret/);
  });
});
