import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { waitFor } from './support/ports.ts';
import { startGateway, token } from '../packages/server/test/helpers.ts';
import { SessionIds } from '../packages/server/src/transport/http/session-id.ts';

/**
 * Requests on HTTP-transport connections need no credential to be made (`/poll?conn=`,
 * `/send`, `/close`), so each is bounded: per IP like the opening requests, an id naming a
 * node that is not alive answered at once (`404`) instead of relayed and held, and a cap on
 * the requests relayed at once. Three gateway nodes on a real redis-server; polls are held
 * for 120 s, so a request that is held instead of answered fails the test by its timeout.
 */
const POLL_MS = 120_000;
let redis: RedisProcess;
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let a: Gateway;
let b: Gateway;
/** A node that relays at most 2 requests at once. */
let capped: Gateway;

beforeAll(async () => {
  redis = await startRedis();
  const o = { redis: redis.url, storage: 'redis', namespaces: { chat: {} } } as const;
  [a, b, capped] = await Promise.all([
    startGateway({ ...o, transports: { pollTimeoutMs: POLL_MS } }),
    startGateway({ ...o, transports: { pollTimeoutMs: POLL_MS } }),
    startGateway({ ...o, transports: { pollTimeoutMs: POLL_MS, maxRelayedRequests: 2 } }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a, b, capped].filter(Boolean).map((g) => g.close()));
  await redis?.stop();
}, 60_000);

/** A request through `agent` (at most its `maxSockets` connections): status and error code. */
function viaAgent(agent: Agent, url: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, ...(res.statusCode! >= 400 ? { error: JSON.parse(text).error.code } : {}) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function status(url: string, init?: RequestInit): Promise<{ status: number; error?: string }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, ...(r.status >= 400 ? { error: JSON.parse(text).error.code } : {}) };
}

/** A long-polling connection opened on `g`, authenticated, its first batch taken: its next poll is held. */
async function quietPoller(g: Gateway, user: string): Promise<string> {
  const open = await (await fetch(`${g.url}/poll?token=${await token(user)}`)).text();
  const conn = JSON.parse(open.split('\n')[0]!).conn as string;
  const first = await (await fetch(`${g.url}/poll?conn=${encodeURIComponent(conn)}&seq=0`)).text();
  expect(first).toContain('auth_success');
  return conn;
}

describe('requests on HTTP-transport connections are bounded', () => {
  it('2,000 polls and sends from one IP at once (over 200 connections) naming a node that does not exist: each answered at once (404, or 429 past the per-IP rate), none relayed and held', async () => {
    const ghost = new SessionIds('ghostnode01234').mint().id; // well-formed, of a node that never existed
    const live = new SessionIds(b.node.id).mint().id; // a live node, but a forged connection
    const q = encodeURIComponent;
    // 2,000 requests in flight at once, over at most 200 connections (a held one would hold its connection for 130 s)
    const agent = new Agent({ keepAlive: true, maxSockets: 200 });
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0
      ? viaAgent(agent, `${a.url}/poll?conn=${q(ghost)}&seq=0`, 'GET')
      : viaAgent(agent, `${a.url}/send?conn=${q(i % 100 === 1 ? live : ghost)}`, 'POST', '{"type":"ping"}'))));
    agent.destroy();
    const by = new Map<string, number>();
    for (const r of answers) by.set(`${r.status} ${r.error}`, (by.get(`${r.status} ${r.error}`) ?? 0) + 1);
    expect([...by.keys()].filter((k) => k !== '404 unknown_connection' && k !== '429 too_many_requests')).toEqual([]);
    expect(by.get('404 unknown_connection')).toBeGreaterThan(0);
    expect(a.node.metrics.relayedInFlight).toBe(0);
    // the node still serves its clients and relays to live nodes
    const conn = await quietPoller(b, 'after-flood');
    await waitFor(async () => (await status(`${a.url}/send?conn=${q(conn)}`, { method: 'POST', body: '{"type":"ping"}' })).status === 202, 20_000, 'a relayed /send once the per-IP bucket refilled');
  }, 60_000);

  it('past limits.httpRequestsPerIpPerSecond: 429 too_many_requests on /poll, /send and /close alike', async () => {
    const slow = await startGateway({ limits: { httpRequestsPerIpPerSecond: 5 }, transports: { pollTimeoutMs: POLL_MS } });
    try {
      const conn = encodeURIComponent(new SessionIds(slow.node.id).mint().id);
      const kinds = ['poll', 'send', 'close'] as const;
      const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => {
        const kind = kinds[i % 3]!;
        const r = kind === 'poll' ? status(`${slow.url}/poll?conn=${conn}&seq=0`) : status(`${slow.url}/${kind}?conn=${conn}`, { method: 'POST', body: '' });
        return r.then((x) => ({ kind, ...x }));
      }));
      // the burst (2 × 5) is answered (404: no such connection), the rest refused
      expect(answers.filter((r) => r.status !== 404 && r.status !== 429)).toEqual([]);
      for (const kind of kinds) expect(answers.some((r) => r.kind === kind && r.status === 429 && r.error === 'too_many_requests')).toBe(true);
      // opening requests have their own bucket (limits.connectionsPerIpPerSecond)
      expect((await fetch(`${slow.url}/poll`)).status).toBe(200);
    } finally {
      await slow.close();
    }
  });

  it('past transports.maxRelayedRequests: 503 unavailable at once, and relayed requests go on once the count falls', async () => {
    const polls = await Promise.all([quietPoller(b, 'cap-1'), quietPoller(b, 'cap-2'), quietPoller(b, 'cap-3')]);
    const q = encodeURIComponent;
    // two polls relayed through the capped node, held by their owner (nothing to send)
    const pending = polls.slice(0, 2).map((c) => fetch(`${capped.url}/poll?conn=${q(c)}&seq=1`).then((r) => r.text()));
    await waitFor(() => capped.node.metrics.relayedInFlight === 2, 10_000, 'two relayed polls in flight');
    expect(await status(`${capped.url}/poll?conn=${q(polls[2]!)}&seq=1`)).toEqual({ status: 503, error: 'unavailable' });
    expect(await status(`${capped.url}/send?conn=${q(polls[2]!)}`, { method: 'POST', body: '{"type":"ping"}' })).toEqual({ status: 503, error: 'unavailable' });
    // something to send (a pong) answers each held poll: the count falls, relaying resumes
    for (const c of polls.slice(0, 2)) expect((await status(`${b.url}/send?conn=${q(c)}`, { method: 'POST', body: '{"type":"ping","id":"p"}' })).status).toBe(202);
    for (const answer of await Promise.all(pending)) expect(answer).toContain('"pong"');
    await waitFor(() => capped.node.metrics.relayedInFlight === 0, 10_000, 'the relayed polls answered');
    expect(await status(`${capped.url}/send?conn=${q(polls[2]!)}`, { method: 'POST', body: '{"type":"ping"}' })).toEqual({ status: 202 });
  }, 60_000);
});
