import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import type { RedisSentinelProcess } from './support/redis-cluster.ts';
import type { GatewayProcess } from './support/gateway-process.ts';
import { startSentinelGateway, type ApiAnswer } from './support/sentinel-gateway.ts';
import { waitFor } from './support/ports.ts';
import { fullHistory, httpPublisher as httpPublisherOf, wsPublisher as wsPublisherOf, type Publisher } from './support/retrying-publishers.ts';
import { token } from '../packages/server/test/helpers.ts';
import { closeClients, makeClient } from '../packages/client/test/helpers.ts';

/**
 * Sentinel failover under a publish stream: a real primary, two replicas and a sentinel on
 * free ports, a real gateway process on `redis+sentinel://` with
 * `SWITCHBOARD_REDIS_WAIT_REPLICAS=1`, one publisher on the HTTP API and one on WebSocket
 * (each retrying with the same idempotency key until acknowledged, as the docs tell
 * clients to), and an SDK subscriber. The primary is killed with SIGKILL mid stream.
 */
const API_KEY = 'sentinel-failover-api-key-0123456789';
const CONFIG = {
  namespaces: { '': {}, chat: { history: { size: 100_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
  shutdown: { reconnectSpreadMs: 0 },
};
const HTTP_CHANNEL = 'chat:failover-http';
const WS_CHANNEL = 'chat:failover-ws';

let group: RedisSentinelProcess;
let gw: GatewayProcess;
let api: (method: string, body: unknown) => Promise<ApiAnswer>;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ group, gw, api, stop } = await startSentinelGateway({ config: CONFIG, apiKey: API_KEY }));
}, 300_000);

afterAll(async () => {
  closeClients();
  await stop?.();
});

const history = (channel: string, epoch: string) => fullHistory(api, channel, epoch);
const httpPublisher = (channel = HTTP_CHANNEL) => httpPublisherOf(api, channel);
const wsPublisher = (channel = WS_CHANNEL) => wsPublisherOf(gw.wsUrl, channel);

describe('Sentinel failover with redisWaitReplicas=1', () => {
  it('SIGKILL of the primary mid stream: retryable errors, then service on the promoted replica; every acknowledged publication in history once, in order', async () => {
    // An SDK subscriber on both channels: it must keep receiving after the failover.
    const client = makeClient(gw.wsUrl, { token: await token('watcher'), connectTimeoutMs: 10_000 });
    const received = new Map<string, Publication[]>([[HTTP_CHANNEL, []], [WS_CHANNEL, []]]);
    // What the client went through, for the failure message.
    const events: string[] = [];
    client.on('disconnected', (e) => events.push(`disconnected ${e.code} ${e.reason}`));
    client.on('connected', (e) => events.push(`connected resumed=${e.resumed}`));
    client.on('error', (e) => events.push(`error ${e.error.message}`));
    const subs = [HTTP_CHANNEL, WS_CHANNEL].map((ch) => {
      const s = client.subscribe(ch);
      s.on('message', (m) => received.get(ch)!.push(m));
      s.on('subscribed', (e) => events.push(`${ch} subscribed ${e.offset} resubscribed=${e.resubscribed}`));
      s.on('recovered', (e) => events.push(`${ch} recovered ${e.count}`));
      s.on('gap', (e) => events.push(`${ch} gap ${JSON.stringify(e)}`));
      s.on('error', (e) => events.push(`${ch} error ${e.error.message}`));
      s.on('state', (e) => events.push(`${ch} ${e.state}`));
      return s;
    });
    await Promise.all(subs.map((s) => s.ready()));

    const http = httpPublisher();
    const ws = wsPublisher();
    await waitFor(() => http.acks.length >= 30 && ws.acks.length >= 30, 60_000, 'publications before the kill');
    const oldPrimary = await group.primaryPort();
    const before = { http: http.acks.length, ws: ws.acks.length };
    const killedAt = Date.now();
    // The process that is primary now (a loaded machine may have failed over already).
    await [group.primary, ...group.replicas].find((n) => n.port === oldPrimary)!.kill();
    await waitFor(async () => (await group.primaryPort()) !== oldPrimary, 60_000, 'the sentinel to promote a replica');
    const promotedAt = Date.now();
    // Service is back without a gateway restart: both publishers are acknowledged again.
    const stuck = (err: Error): never => {
      const last = (p: Publisher) => `${p.acks.length} acks, ${p.refusals.length} refusals, last ${JSON.stringify(p.refusals.slice(-2))}`;
      throw new Error(`${err.message}: HTTP ${last(http)}; WebSocket ${last(ws)}; gateway: ${gw.output().slice(-1500)}`);
    };
    await waitFor(() => http.acks.length >= before.http + 30 && ws.acks.length >= before.ws + 30, 90_000, 'publications acknowledged on the new primary').catch(stuck);
    // Service is back at the first acknowledgement after the first refusal.
    const refusedAt = Math.min(...[http, ws].map((p) => p.refusedAt[0] ?? Infinity));
    const backAt = Math.min(...[http, ws].map((p) => p.ackedAt.find((t) => t > refusedAt) ?? Infinity));
    // Live delivery on the promoted primary: the subscriber sees publications made from now on.
    const target = { http: http.acks.length + 10, ws: ws.acks.length + 10 };
    await waitFor(() => http.acks.length >= target.http && ws.acks.length >= target.ws, 60_000, 'more publications').catch(stuck);
    await Promise.all([http.stop(), ws.stop()]);
    console.log(`sentinel failover: primary killed, replica promoted after ${promotedAt - killedAt} ms, first refusal after ${refusedAt - killedAt} ms, acknowledged again after ${backAt - killedAt} ms; refusals: HTTP ${http.refusals.length}, WebSocket ${ws.refusals.length} (${ws.reconnects()} reconnect attempts): ${JSON.stringify([...new Set(ws.refusals.map((r) => JSON.stringify(r)))]).slice(0, 600)}`);

    // During the failover publishes were refused, retryably: 503 + Retry-After, temporary errors.
    expect(http.refusals.length).toBeGreaterThan(0);
    for (const r of http.refusals) expect(r).toEqual({ status: 503, retryAfter: '1', code: 'internal', temporary: true });
    expect(ws.refusals.length).toBeGreaterThan(0);
    for (const r of ws.refusals as any[]) {
      // A temporary error frame, or the connection closed under the request (then reopened).
      if ('code' in r) expect(r).toEqual({ code: 'internal', temporary: true });
      // Reconnecting during the outage: authentication answers a temporary error.
      else if ('connect' in r) expect(r.connect).toMatchObject({ type: 'error', code: 'internal', temporary: true });
      else expect(r).toHaveProperty('closed');
    }

    for (const [channel, pub] of [[HTTP_CHANNEL, http], [WS_CHANNEL, ws]] as const) {
      const epoch = pub.acks[0]!.epoch;
      const stored = await history(channel, epoch);
      // Every acknowledged publication is there once, at the offset its ack gave, in order:
      // offsets 1…n without holes, data 0…n-1 without duplicates (nothing unacknowledged
      // is left over either: each publication was retried until acknowledged).
      // A promotion starts a new epoch continuing the offsets (a position from before it still
      // recovers): each ack names the epoch of the publication stored at its offset.
      expect(pub.acks.map((a) => a.epoch)).toEqual(stored.map((p) => p.epoch));
      expect(stored.map((p) => p.offset)).toEqual(pub.acks.map((_, k) => k + 1));
      expect(stored.map((p) => (p.data as { n: number }).n)).toEqual(pub.acks.map((_, k) => k));
      expect(pub.acks.map((a) => a.offset)).toEqual(pub.acks.map((_, k) => k + 1));
      // The subscriber received all of them once, in order (live, or recovered from history
      // after the gateway asked it to reconnect), including those after the failover.
      await waitFor(() => received.get(channel)!.length >= stored.length, 60_000, `the subscriber to receive ${channel}`).catch((err: Error) => {
        const got = received.get(channel)!;
        const k = got.findIndex((p, i) => p.offset !== stored[i]?.offset);
        throw new Error(`${err.message}: received ${got.length} of ${stored.length}, first difference at ${k} (${JSON.stringify(got.slice(Math.max(0, k - 2), k + 3).map((p) => p.offset))}); client: ${events.join('; ')}`);
      });
      expect(received.get(channel)!.map((p) => p.offset)).toEqual(stored.map((p) => p.offset));
      expect(received.get(channel)!.map((p) => p.data)).toEqual(stored.map((p) => p.data));
    }
  }, 400_000);

  it('a planned failover (SENTINEL FAILOVER: the primary is demoted alive): the gateway follows the promoted replica, nothing acknowledged lost or doubled', async () => {
    const channels = { http: 'chat:switch-http', ws: 'chat:switch-ws' };
    // The previous test's failover must be over (replicas re-pointed) before another can
    // be asked for: the sentinel answers INPROG until then.
    await group.settled();
    const http = httpPublisher(channels.http);
    const ws = wsPublisher(channels.ws);
    await waitFor(() => http.acks.length >= 20 && ws.acks.length >= 20, 60_000, 'publications before the switch');
    const oldPrimary = await group.primaryPort();
    const before = { http: http.acks.length, ws: ws.acks.length };
    await group.failover();
    await waitFor(async () => (await group.primaryPort()) !== oldPrimary, 60_000, 'the sentinel to switch the primary');
    await waitFor(() => http.acks.length >= before.http + 30 && ws.acks.length >= before.ws + 30, 90_000, 'publications acknowledged on the new primary').catch((err: Error) => {
      throw new Error(`${err.message}: HTTP ${http.acks.length} acks, last refusals ${JSON.stringify(http.refusals.slice(-2))}; WebSocket ${ws.acks.length} acks, last refusals ${JSON.stringify(ws.refusals.slice(-2))}`);
    });
    await Promise.all([http.stop(), ws.stop()]);
    for (const r of http.refusals) expect(r).toEqual({ status: 503, retryAfter: '1', code: 'internal', temporary: true });
    for (const [channel, pub] of [[channels.http, http], [channels.ws, ws]] as const) {
      const epoch = pub.acks[0]!.epoch;
      const stored = await history(channel, epoch);
      const diag = `${channel}: stored ${JSON.stringify(stored.map((p) => `${p.offset}:${(p.data as { n: number }).n}`))}; acks ${JSON.stringify(pub.acks.map((a) => a.offset))}; refusals ${JSON.stringify(pub.refusals)}`;
      expect(pub.acks.map((a) => a.epoch), diag).toEqual(stored.map((p) => p.epoch));
      expect(stored.map((p) => p.offset), diag).toEqual(pub.acks.map((_, k) => k + 1));
      expect(stored.map((p) => (p.data as { n: number }).n), diag).toEqual(pub.acks.map((_, k) => k));
      expect(pub.acks.map((a) => a.offset), diag).toEqual(pub.acks.map((_, k) => k + 1));
    }
  }, 400_000);
});
