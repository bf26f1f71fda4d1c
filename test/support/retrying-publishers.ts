import type { Publication } from '@switchboard/protocol';
import { sleep } from './ports.ts';
import { RawClient, token } from '../../packages/server/test/helpers.ts';

/** An answer of the server API: status, `Retry-After` and the JSON body. */
export interface ApiAnswer {
  status: number;
  retryAfter: string | null;
  body: any;
}

/** Calls a gateway's server API (`POST <url>/api/<method>`) with an API key; never throws on a status. */
export function apiCaller(url: string, apiKey: string): (method: string, body: unknown) => Promise<ApiAnswer> {
  return async (method, body) => {
    const r = await fetch(`${url}/api/${method}`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `apikey ${apiKey}` }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() };
  };
}

/** A sequential publisher: publication n is retried with key `n` until acknowledged. */
export interface Publisher {
  /** Acknowledged publications by number: the ack's offset and epoch. */
  acks: Array<{ offset: number; epoch: string }>;
  /** Every refusal seen (each one retried). */
  refusals: unknown[];
  /** When the n-th ack arrived (ms). */
  ackedAt: number[];
  /** When each refusal arrived (ms). */
  refusedAt: number[];
  /** Stops once the current publication is acknowledged (retrying it until then); resolves then. */
  stop(): Promise<void>;
}

/** Runs `publishOnce(n)` for n = 0, 1, … retrying each n (50 ms apart) until acknowledged. */
function runPublisher(publishOnce: (n: number) => Promise<{ offset: number; epoch: string } | { refusal: unknown }>): Publisher {
  let stopping = false;
  const p: Publisher = { acks: [], refusals: [], ackedAt: [], refusedAt: [], stop: async () => { stopping = true; await loop; } };
  const loop = (async () => {
    // A refused publication may still be stored (its WAIT fell short): it is retried until
    // acknowledged, even once stopping, so nothing unacknowledged is left in history.
    for (;;) {
      const n = p.acks.length;
      const r = await publishOnce(n);
      if ('refusal' in r) {
        p.refusals.push(r.refusal);
        p.refusedAt.push(Date.now());
        await sleep(50); // a client's retry backoff (Retry-After says 1 s; a test retries sooner)
      } else {
        p.acks.push(r);
        p.ackedAt.push(Date.now());
        if (stopping) return;
      }
    }
  })();
  return p;
}

/** HTTP API: `POST /api/publish` with `idempotencyKey` `h-<n>`; a refusal is recorded with its status and error. */
export function httpPublisher(api: (method: string, body: unknown) => Promise<ApiAnswer>, channel: string): Publisher {
  return runPublisher(async (n) => {
    const r = await api('publish', { channel, data: { n }, idempotencyKey: `h-${n}` }).catch((err: Error) => ({ status: 0, retryAfter: null, body: { fetch: err.message } }));
    if (r.status === 200) return { offset: r.body.offset, epoch: r.body.epoch };
    return { refusal: { status: r.status, retryAfter: r.retryAfter, code: r.body.error?.code, temporary: r.body.error?.temporary } };
  });
}

/**
 * WebSocket: `publish` with the id `w-<n>` as idempotency key, as user `user`. A temporary
 * `error` is retried on the same connection; a closed connection (the gateway asks its
 * clients to reconnect once its broker subscriptions are back) is reopened as the same user
 * and the same id retried.
 */
export function wsPublisher(wsUrl: string, channel: string, user = 'ws-publisher'): Publisher & { reconnects: () => number } {
  let conn: RawClient | undefined;
  let reconnects = 0;
  /** An authenticated connection, or what refused it (during an outage: a temporary error). */
  const open = async (): Promise<RawClient | { refused: unknown }> => {
    const c = new RawClient(`${wsUrl}?token=${await token(user)}`);
    const first = await c.next((f) => f.type !== 'ping', 30_000).catch((err: Error) => ({ type: 'none', message: err.message.slice(0, 80) }));
    if (first.type === 'auth_success') return c;
    c.close();
    return { refused: first };
  };
  const p = runPublisher(async (n) => {
    if (!conn || conn.closeCode !== undefined) {
      if (conn) reconnects++;
      const opened = await open();
      if (!(opened instanceof RawClient)) return { refusal: { connect: opened.refused } };
      conn = opened;
    }
    const r = await conn.request({ type: 'publish', id: `w-${n}`, channel, data: { n } }, 30_000).catch(() => undefined);
    if (r?.type === 'ack') return { offset: r.offset, epoch: r.epoch };
    if (r === undefined) return { refusal: { closed: conn.closeCode ?? 'timeout' } };
    return { refusal: { code: r.code, temporary: r.temporary } };
  });
  const stop = p.stop;
  return Object.assign(p, { reconnects: () => reconnects, stop: async () => { await stop(); conn?.close(); } });
}

/** Every publication of a channel in history (server API), from the first offset of `epoch` on. */
export async function fullHistory(api: (method: string, body: unknown) => Promise<ApiAnswer>, channel: string, epoch: string): Promise<Publication[]> {
  const out: Publication[] = [];
  for (;;) {
    // The position of the last publication read (its own epoch: a promotion starts a new one).
    const last = out.at(-1);
    const since = last ? { epoch: last.epoch, offset: last.offset } : { epoch, offset: 0 };
    const page = await api('history', { channel, since, limit: 500 });
    if (page.status !== 200) throw new Error(`history of ${channel}: ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.publications);
    if (page.body.publications.length < 500) return out;
  }
}
