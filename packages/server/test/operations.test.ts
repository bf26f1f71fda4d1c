import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import type { SwitchboardServer } from '../src/index.ts';

let gw: (SwitchboardServer & { wsUrl: string; url: string }) | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** The value of one sample line of the Prometheus text (labels as written), or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('text/plain');
  return r.text();
}

describe('operations: /metrics, /healthz, /readyz', () => {
  it('counts connections, subscriptions, messages and bytes, latency, errors and closes', async () => {
    gw = await startGateway({ namespaces: { chat: { history: { size: 10, ttl: '1h' } } } });
    const before = await scrape(gw.url);
    expect(sample(before, 'switchboard_connections')).toBe(0);
    expect(sample(before, 'switchboard_publications_total')).toBe(0);

    const grants = { channels: ['chat:*'], publish: ['chat:*'] };
    const subs = await Promise.all([1, 2, 3].map((i) => connectAuthed(gw!.wsUrl, `u${i}`, grants)));
    const pub = await connectAuthed(gw.wsUrl, 'p', grants);
    // Connections may hold automatic subscriptions (their personal channel): count from here.
    const connected = await scrape(gw.url);
    const subs0 = sample(connected, 'switchboard_subscriptions')!;
    const channels0 = sample(connected, 'switchboard_channels')!;
    for (const s of subs) expect((await s.request({ type: 'subscribe', channel: 'chat:room' })).type).toBe('ack');
    for (let i = 0; i < 5; i++) expect((await pub.request({ type: 'publish', channel: 'chat:room', data: { i } })).type).toBe('ack');
    for (const s of subs) await s.next((f) => f.type === 'message' && f.data.i === 4);
    expect((await pub.request({ type: 'subscribe', channel: 'nope:x' })).code).toBe('unknown_channel');

    const mid = await scrape(gw.url);
    expect(sample(mid, 'switchboard_connections')).toBe(4);
    expect(sample(mid, 'switchboard_connections_authenticated')).toBe(4);
    expect(sample(mid, 'switchboard_subscriptions')).toBe(subs0 + 3);
    expect(sample(mid, 'switchboard_channels')).toBe(channels0 + 1);
    expect(sample(mid, 'switchboard_history_reads')).toBe(0); // none in progress now
    expect(sample(mid, 'switchboard_history_reads_waiting')).toBe(0);
    expect(sample(mid, 'switchboard_publications_total')).toBe(5);
    expect(sample(mid, 'switchboard_messages_out_total')).toBe(15);
    expect(sample(mid, 'switchboard_messages_in_total')).toBeGreaterThanOrEqual(3 + 5 + 1);
    expect(sample(mid, 'switchboard_bytes_in_total')).toBeGreaterThan(100);
    expect(sample(mid, 'switchboard_bytes_out_total')).toBeGreaterThan(15 * 40);
    expect(sample(mid, 'switchboard_publish_delivery_seconds_count')).toBe(5);
    expect(sample(mid, 'switchboard_publish_delivery_seconds_bucket', '{le="+Inf"}')).toBe(5);
    expect(sample(mid, 'switchboard_publish_delivery_seconds_bucket', '{le="5"}')).toBe(5);
    expect(sample(mid, 'switchboard_publish_delivery_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(mid).toContain('# TYPE switchboard_publish_delivery_seconds histogram');
    expect(sample(mid, 'switchboard_errors_total', '{code="unknown_channel"}')).toBe(1);
    expect(sample(mid, 'switchboard_dependency_seconds_count', '{dependency="history",op="append"}')).toBe(5);
    expect(sample(mid, 'switchboard_dependency_seconds_count', '{dependency="broker",op="publish"}')).toBe(5);
    expect(sample(mid, 'switchboard_dependency_seconds_count', '{dependency="sessions",op="create"}')).toBe(4);
    expect(sample(mid, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const bad = new RawClient(`${gw.wsUrl}?token=${(await token('x')).slice(0, -3)}xyz`);
    expect(await bad.waitClose()).toBe(3500);
    subs[0]!.close();
    await subs[0]!.closedP;
    const after = await scrape(gw.url);
    expect(sample(after, 'switchboard_closes_total', '{code="3500"}')).toBe(1);
    expect(sample(after, 'switchboard_connections')).toBe(3);
    expect(sample(after, 'switchboard_subscriptions')).toBe(subs0 + 3 - (subs0 / 4) - 1);
    for (const c of [...subs, pub]) c.close();
  });

  it('keeps a registry per server: two gateways in one process count separately', async () => {
    gw = await startGateway();
    const other = await startGateway();
    try {
      const c = await connectAuthed(other.wsUrl, 'a');
      expect(sample(await scrape(other.url), 'switchboard_connections')).toBe(1);
      expect(sample(await scrape(gw.url), 'switchboard_connections')).toBe(0);
      c.close();
    } finally {
      await other.close();
    }
  });

  it('healthz is alive; readyz is ready while stores answer and 503 when they fail or the node drains', async () => {
    gw = await startGateway();
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ok = await fetch(`${gw.url}/readyz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready' });

    // The session store stops answering (a Redis outage looks like this).
    const sessions = gw.node.sessions as unknown as { get: (id: string) => Promise<unknown> };
    const original = sessions.get;
    sessions.get = () => Promise.reject(new Error('connection refused'));
    const down = await fetch(`${gw.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'stores_unreachable' });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    sessions.get = original;
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

    gw.node.accepting = false;
    const draining = await fetch(`${gw.url}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'draining' });
  });
});
