import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import { MemoryBroker } from '../../src/broker/memory-broker.ts';
import { startGateway } from '../helpers.ts';

/**
 * Audits docs/server-api.md against the server: every row of its error table (status, code)
 * is produced by a request below, and every malformed request answers a 4xx naming the
 * problem (never a 5xx: a 503 tells the caller to retry what can never succeed).
 */
const KEY = 'documented-errors-key-0123';
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let closedApi: Gateway;

/** A broker that fails publications to channels of namespace `broken`: a store or broker outage. */
class FailingBroker extends MemoryBroker {
  override async publish(channel: string, pub: Publication): Promise<void> {
    if (channel.startsWith('broken:')) throw new Error('broker down');
    return super.publish(channel, pub);
  }
}

beforeAll(async () => {
  gw = await startGateway({
    apiKeys: [KEY],
    limits: { maxHttpBodyBytes: 4096 },
    namespaces: { chat: { history: { size: 10, ttl: '1h' }, presence: true }, plain: {}, broken: {} },
  }, { broker: (h) => new FailingBroker(h) });
  closedApi = await startGateway({ namespaces: { chat: {} } });
});
afterAll(async () => {
  await gw?.close();
  await closedApi?.close();
});

interface Req { path: string; body?: unknown; raw?: string | Uint8Array<ArrayBuffer>; type?: string | null; key?: string | null; gateway?: () => Gateway }
async function send(r: Req): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (r.key !== null) headers['x-api-key'] = r.key ?? KEY;
  if (r.type !== null) headers['content-type'] = r.type ?? 'application/json';
  const res = await fetch(`${(r.gateway ?? (() => gw))().url}${r.path}`, {
    method: 'POST', headers, body: r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body)),
  });
  return { status: res.status, body: await res.json() };
}

const deep = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n));

/** One request per documented (status, code), with what its message must say. */
const DOCUMENTED: Array<{ status: number; code: string; req: Req; says: RegExp }> = [
  { status: 400, code: 'bad_request', req: { path: '/api/publish', body: { data: 1 } }, says: /^channel: is required/ },
  { status: 401, code: 'unauthorized', req: { path: '/api/info', body: {}, key: 'wrong-key-0123456789' }, says: /invalid API key/ },
  { status: 403, code: 'permission_denied', req: { path: '/api/subscribe', body: { user: 'bob', channel: '#alice' } }, says: /#alice is a personal channel: only user "alice"/ },
  { status: 404, code: 'unknown_channel', req: { path: '/api/publish', body: { channel: 'nope:x', data: 1 } }, says: /namespace "nope"/ },
  { status: 404, code: 'not_available', req: { path: '/api/presence', body: { channel: 'plain:x' } }, says: /presence is not enabled/ },
  { status: 404, code: 'not_found', req: { path: '/api/nothing', body: {} }, says: /no such server API route/ },
  { status: 410, code: 'unrecoverable_position', req: { path: '/api/history', body: { channel: 'chat:x', since: { epoch: 'other', offset: 3 } } }, says: /since: position not retained/ },
  { status: 413, code: 'limit_exceeded', req: { path: '/api/publish', body: { channel: 'chat:x', data: 'x'.repeat(5000) } }, says: /maxHttpBodyBytes/ },
  { status: 415, code: 'bad_request', req: { path: '/api/publish', raw: '{"channel":"chat:x","data":1}', type: 'text/plain' }, says: /Content-Type: application\/json/ },
  { status: 503, code: 'internal', req: { path: '/api/publish', body: { channel: 'broken:x', data: 1 } }, says: /temporarily unavailable/ },
  { status: 503, code: 'not_available', req: { path: '/api/info', body: {}, gateway: () => closedApi }, says: /no API key is configured/ },
];

/** Malformed requests: each a 4xx whose message names the problem. */
const MALFORMED: Array<{ name: string; req: Req; status: number; says: RegExp; field?: string }> = [
  { name: 'push all with deeply nested content', req: { path: '/api/push', raw: `{"type":"all","content":${'['.repeat(1500)}${']'.repeat(1500)}}` }, status: 400, says: /^content: nests deeper than 64/, field: 'content' },
  { name: 'push single with deeply nested content', req: { path: '/api/push', body: { type: 'single', pointer: 'alice', content: deep(100) } }, status: 400, says: /^content: nests deeper/, field: 'content' },
  { name: 'push room with deeply nested content', req: { path: '/api/push', body: { type: 'room', pointer: 'chat:x', content: deep(100) } }, status: 400, says: /^content: nests deeper/, field: 'content' },
  { name: 'publish with deeply nested data', req: { path: '/api/publish', body: { channel: 'chat:x', data: deep(65) } }, status: 400, says: /^data: nests deeper/, field: 'data' },
  { name: 'broadcast with deeply nested data', req: { path: '/api/broadcast', body: { channels: ['chat:x'], data: { a: deep(80) } } }, status: 400, says: /^data: nests deeper/, field: 'data' },
  { name: 'send with deeply nested data', req: { path: '/api/send', body: { user: 'alice', data: deep(70) } }, status: 400, says: /^data: nests deeper/, field: 'data' },
  { name: 'text/plain body', req: { path: '/api/info', raw: '{}', type: 'text/plain' }, status: 415, says: /application\/json/ },
  { name: 'form body', req: { path: '/api/info', raw: 'a=1', type: 'application/x-www-form-urlencoded' }, status: 415, says: /application\/json/ },
  { name: 'body without a content type', req: { path: '/api/info', raw: new Uint8Array(new TextEncoder().encode('{}')), type: null }, status: 415, says: /application\/json/ },
  { name: 'invalid JSON', req: { path: '/api/publish', raw: '{"channel":' }, status: 400, says: /^body: / },
  { name: 'a JSON array as the body', req: { path: '/api/publish', raw: '[1,2]' }, status: 400, says: /^body: / },
  { name: '__proto__ in the body', req: { path: '/api/publish', raw: '{"channel":"chat:x","data":1,"__proto__":{"x":1}}' }, status: 400, says: /^body: / },
  { name: 'a malformed channel name', req: { path: '/api/publish', body: { channel: 'chat:a b', data: 1 } }, status: 400, says: /^channel: /, field: 'channel' },
  { name: 'a pointer of the wrong type', req: { path: '/api/push', body: { type: 'single', pointer: 5, content: 1 } }, status: 400, says: /^pointer: /, field: 'pointer' },
  { name: 'history limit past historyLimit', req: { path: '/api/history', body: { channel: 'chat:x', limit: 1_000_000 } }, status: 400, says: /^limit: at most/, field: 'limit' },
  { name: 'a close code out of range', req: { path: '/api/disconnect', body: { user: 'alice', code: 1000 } }, status: 400, says: /^code: /, field: 'code' },
];

describe('docs/server-api.md error table', () => {
  const doc = readFileSync(new URL('../../../../docs/server-api.md', import.meta.url), 'utf8');
  const table = doc.slice(doc.indexOf('| status | `code` | when |'), doc.indexOf('An empty body counts'));
  const rows = [...table.matchAll(/^\| (\d{3}) \| `(\w+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`);

  it('every documented status and code has a case here, and nothing else', () => {
    expect(rows.length).toBeGreaterThan(5);
    expect(DOCUMENTED.map((d) => `${d.status} ${d.code}`).sort()).toEqual([...rows].sort());
  });

  for (const d of DOCUMENTED) {
    it(`${d.status} ${d.code}: ${d.req.path}`, async () => {
      const r = await send(d.req);
      expect({ status: r.status, code: r.body.error?.code }).toEqual({ status: d.status, code: d.code });
      expect(r.body.error.message).toMatch(d.says);
    });
  }
});

describe('every malformed request is a 4xx that names the problem', () => {
  for (const m of MALFORMED) {
    it(m.name, async () => {
      const r = await send(m.req);
      expect(r.status, JSON.stringify(r.body)).toBe(m.status);
      expect(r.body.error.message).toMatch(m.says);
      if (m.field !== undefined) expect(r.body.error.field).toBe(m.field);
      expect(r.body.error.temporary).toBeUndefined();
    });
  }

  it('the gateway still publishes after all of them', async () => {
    expect((await send({ path: '/api/publish', body: { channel: 'chat:x', data: 'ok' } })).status).toBe(200);
  });
});
