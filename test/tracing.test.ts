/**
 * OpenTelemetry traces (docs/tracing.md) at a real OTLP/HTTP receiver: two gateways on one
 * Redis, a subscriber on the second. A publication through the HTTP API continues the
 * caller's `traceparent` through storage, the broker and the other node's fan-out, and its
 * webhook is delivered with the trace's `traceparent`; a client's publication is a trace whose
 * publish hook call is a child span, and the hook endpoint gets its `traceparent`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Switchboard } from '@switchboard/client';
import { startGateway, token } from '../packages/server/test/helpers.ts';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { startRedis, type RedisProcess } from './support/redis.ts';

process.env.OTEL_BSP_SCHEDULE_DELAY = '100'; // export spans at once (the default batches 5 s)
const API_KEY = 'tracing-test-api-key-0123456789';
const WEBHOOK_SECRET = 'tracing-test-webhook-secret';

/** The application: a publish hook that allows, and a webhook receiver; both record headers. */
class App {
  readonly requests: { path: string; headers: IncomingHttpHeaders }[] = [];
  url = '';
  private readonly server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      this.requests.push({ path: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/publish' ? '{"allow":true}' : '{}');
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let redis: RedisProcess;
/** The untraced gateway's own Redis: on the shared one it could deliver A's webhooks (exactly once cluster-wide), untraced. */
let redisUntraced: RedisProcess;
let receiver: OtlpReceiver;
let app: App;
let a: Awaited<ReturnType<typeof startGateway>>;
let b: Awaited<ReturnType<typeof startGateway>>;
let untraced: Awaited<ReturnType<typeof startGateway>>;

const parentOf = (traceparent: string | string[] | undefined) => String(traceparent).split('-')[2];
const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

beforeAll(async () => {
  [redis, redisUntraced, receiver, app] = await Promise.all([startRedis(), startRedis(), new OtlpReceiver().start(), new App().start()]);
  const config = {
    redis: redis.url, storage: 'redis', apiKeys: [API_KEY],
    namespaces: { chat: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, allowPublish: true, publicationWebhooks: true } },
    hooks: { publish: { url: `${app.url}/publish` } },
    webhooks: { url: `${app.url}/webhook`, secret: WEBHOOK_SECRET, events: ['publication' as const], retryDelayMs: 50 },
    tracing: { enabled: true, endpoint: receiver.url, serviceName: 'switchboard-test' },
  };
  [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  untraced = await startGateway({ ...config, redis: redisUntraced.url, tracing: { enabled: false } });
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), untraced?.close()]);
  await Promise.all([receiver?.close(), app?.close(), redis?.stop(), redisUntraced?.stop()]);
});

/** A subscriber on gateway B, resolved with the first publication it gets. */
async function subscriberOnB(channel: string): Promise<{ got: Promise<unknown>; close(): void }> {
  const client = new Switchboard(b.wsUrl, { token: await token('bob') });
  const sub = client.subscribe(channel);
  const got = new Promise((resolve) => sub.on('message', (m) => resolve(m.data)));
  await sub.ready();
  return { got, close: () => client.close() };
}

describe('tracing', () => {
  it('an HTTP API publication continues the caller\'s trace through storage, the broker, the other node\'s fan-out and its webhook', async () => {
    const sub = await subscriberOnB('chat:api');
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await fetch(`${a.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `apikey ${API_KEY}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ channel: 'chat:api', data: { n: 1 } }),
    });
    expect(res.status).toBe(200);
    expect(await sub.got).toEqual({ n: 1 });
    sub.close();

    const spans = await expect.poll(() => receiver.trace(traceId), { timeout: 20_000 })
      .toSatisfy((s: ReceivedSpan[]) => ['POST /api/publish', 'switchboard publish', 'switchboard fanout', 'switchboard webhook publication'].every((n) => named(s, n).length > 0))
      .then(() => receiver.trace(traceId));
    const api = named(spans, 'POST /api/publish')[0]!;
    expect(api).toMatchObject({ parentSpanId: callerSpan, kind: 2, service: 'switchboard-test' });
    const publish = named(spans, 'switchboard publish')[0]!;
    expect(publish).toMatchObject({ parentSpanId: api.spanId, kind: 4, attributes: { 'messaging.destination.name': 'chat:api', 'switchboard.offset': 1 } });
    // storage and broker: children of the publication (the Redis store appends and publishes in one step)
    const steps = spans.filter((s) => s.parentSpanId === publish.spanId && s.name.startsWith('switchboard history'));
    expect(steps.length).toBeGreaterThan(0);
    // fan-out on node B, which holds the subscriber, continues the same trace through Redis:
    // a child of the step that handed the publication to the broker
    const fanouts = named(spans, 'switchboard fanout');
    const onB = fanouts.find((s) => s.attributes['switchboard.node'] === b.node.id);
    expect(onB).toMatchObject({ kind: 5, attributes: { 'switchboard.subscribers': 1 } });
    expect(steps.map((s) => s.spanId)).toContain(onB!.parentSpanId);
    // the webhook, delivered later from the outbox, is in the trace and tells the application
    const webhook = named(spans, 'switchboard webhook publication')[0]!;
    expect(webhook.kind).toBe(3);
    const delivered = app.requests.filter((r) => r.path === '/webhook' && String(r.headers.traceparent).includes(traceId));
    expect(delivered.length).toBeGreaterThan(0);
    expect(parentOf(delivered[0]!.headers.traceparent)).toBe(webhook.spanId);
    expect(receiver.refused).toEqual([]);
  });

  it('a client\'s publication is a trace whose publish hook call is a child span, and the hook gets its traceparent', async () => {
    const sub = await subscriberOnB('chat:client');
    const client = new Switchboard(a.wsUrl, { token: await token('alice') });
    await client.publish('chat:client', { n: 2 });
    expect(await sub.got).toEqual({ n: 2 });
    client.close();
    sub.close();

    const hookCall = app.requests.find((r) => r.path === '/publish' && r.headers.traceparent !== undefined);
    expect(hookCall).toBeDefined();
    const traceId = String(hookCall!.headers.traceparent).split('-')[1]!;
    const spans = await expect.poll(() => receiver.trace(traceId), { timeout: 20_000 })
      .toSatisfy((s: ReceivedSpan[]) => ['switchboard command publish', 'switchboard hook publish', 'switchboard publish', 'switchboard fanout'].every((n) => named(s, n).length > 0))
      .then(() => receiver.trace(traceId));
    const command = named(spans, 'switchboard command publish')[0]!;
    expect(command).toMatchObject({ parentSpanId: '', kind: 2 });
    const hook = named(spans, 'switchboard hook publish')[0]!;
    expect(hook).toMatchObject({ parentSpanId: command.spanId, kind: 3, attributes: { 'switchboard.hook.outcome': 'allow' } });
    expect(parentOf(hookCall!.headers.traceparent)).toBe(hook.spanId);
    expect(named(spans, 'switchboard publish')[0]!.parentSpanId).toBe(command.spanId);
  });

  it('off (the default): no spans and no traceparent to the application', async () => {
    const before = receiver.spans.length;
    const hooksBefore = app.requests.length;
    const client = new Switchboard(untraced.wsUrl, { token: await token('carol') });
    await client.publish('chat:off', { n: 3 });
    client.close();
    await expect.poll(() => app.requests.length).toBeGreaterThan(hooksBefore);
    const mine = app.requests.slice(hooksBefore).filter((r) => r.path === '/publish');
    expect(mine.length).toBeGreaterThan(0);
    for (const r of mine) expect(r.headers.traceparent).toBeUndefined();
    // Gateways A and B export nothing of this publication either (it never touched them).
    expect(receiver.spans.slice(before).filter((s) => s.attributes['messaging.destination.name'] === 'chat:off')).toEqual([]);
  });
});
