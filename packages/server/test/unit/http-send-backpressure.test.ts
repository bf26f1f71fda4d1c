import { afterEach, describe, expect, it } from 'vitest';
import { unitGateway } from './test-transport.ts';
import { HttpSessions } from '../../src/transport/http/sessions.ts';

/**
 * `POST /send` and the connection's inbox, without sockets: a body that fills the inbox is
 * answered only once the connection has room again (the HTTP form of TCP backpressure), so
 * a client that waits for each answer never overflows it, and nothing is closed.
 */
let close: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of close.splice(0)) await c();
});

const lines = (frames: object[]) => frames.map((f) => JSON.stringify(f)).join('\n');

describe('unit: POST /send backpressure', () => {
  it('answers a small body at once; holds the answer of a body that filled the inbox until it has room; never closes', async () => {
    const gw = await unitGateway({ auth: { allowAnonymous: true }, namespaces: { chat: { allowSubscribe: true, allowPublish: true, history: { size: 1000, ttl: '1h' } } } });
    close.push(() => gw.close());
    const sessions = new HttpSessions(gw.node, { pollTimeoutMs: 30_000, openConnection: gw.openConnection });
    const s = sessions.open('long-polling', { ip: '127.0.0.1', headers: {} }, false);
    s.opened();

    const small = sessions.run({ op: 'send', conn: s.id, body: lines([{ type: 'auth', name: 'ann', id: 'a' }]) });
    expect(small).toEqual({ status: 202 }); // not held: answered synchronously

    const burst = Array.from({ length: 300 }, (_, i) => ({ type: 'publish', id: `p${i}`, channel: 'chat:x', data: i }));
    const held = sessions.run({ op: 'send', conn: s.id, body: lines(burst) });
    expect(held).toBeInstanceOf(Promise); // 300 behind a running command: the inbox is full
    expect(await held).toEqual({ status: 202 });

    // Everything arrives, in order, by polling.
    const got: any[] = [];
    let seq = 0;
    while (!got.some((f) => f.id === 'p299')) {
      const r = await sessions.run({ op: 'poll', conn: s.id, seq });
      const body = r.body!.trim().split('\n').map((l) => JSON.parse(l));
      seq = body[0].seq;
      got.push(...body.slice(1));
    }
    expect(got.filter((f) => f.type === 'ack' && String(f.id).startsWith('p')).map((f) => f.offset)).toEqual(burst.map((_, i) => i + 1));
    expect(got.some((f) => f.transport === 'close')).toBe(false);
  });
});
