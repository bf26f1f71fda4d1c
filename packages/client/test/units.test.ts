import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/backoff.ts';
import { Requests } from '../src/requests.ts';
import { Emitter } from '../src/emitter.ts';
import { jwtExpiry } from '../src/token.ts';
import { Switchboard } from '../src/index.ts';
import { Subscription } from '../src/subscription.ts';
import { MAX_BODY_CHARS, MAX_BODY_FRAMES, nextBody } from '../src/http-socket.ts';

describe('Backoff (full jitter)', () => {
  it('caps grow by the factor up to the maximum; delays are uniformly within [0, cap]', () => {
    const top = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, factor: 2 }, () => 0.999999);
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, factor: 2 }, () => 0);
    expect(bottom.next()).toBe(0);
    top.reset();
    expect(top.attempts).toBe(0);
    expect(top.next()).toBe(99);
  });
});

describe('Requests', () => {
  const frame = (id: number) => ({ type: 'publish' as const, id, channel: 'c', data: id });
  it('re-sends in-flight calls first, then the queue, in order; settles by id', async () => {
    const r = new Requests(10, 'reject-new');
    const sent: number[] = [];
    const send = (f: { id?: unknown }) => { sent.push(f.id as number); return true; };
    const a = r.submit(frame(1), send);
    const b = r.submit(frame(2), undefined);
    r.resend(send);
    expect(sent).toEqual([1, 1, 2]);
    r.settle({ type: 'ack', id: 1, offset: 5 });
    r.settle({ type: 'error', id: 2, code: 'permission_denied', message: 'no', temporary: false });
    expect((await a).offset).toBe(5);
    await expect(b).rejects.toMatchObject({ code: 'permission_denied', id: 2 });
    expect(r.settle({ type: 'ack', id: 99 })).toBe(false);
  });
  it('a queue of 0 rejects every offline call', async () => {
    const r = new Requests(0, 'reject-oldest');
    await expect(r.submit(frame(1), undefined)).rejects.toMatchObject({ code: 'queue_full' });
  });
});

describe('small parts', () => {
  it('emitter: a throwing listener does not stop the others', async () => {
    class E extends Emitter<{ x: number }> { fire(n: number) { this.emit('x', n); } }
    const e = new E();
    const got: number[] = [];
    const errors: unknown[] = [];
    const onErr = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onErr);
    try {
      e.on('x', () => { throw new Error('boom'); });
      e.on('x', (n) => got.push(n));
      e.fire(1);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('uncaughtException', onErr);
    }
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(1);
  });
  it('emitter: off removes a listener added with once (before it ran), and once runs once', () => {
    class E extends Emitter<{ x: number }> { fire(n: number) { this.emit('x', n); } }
    const e = new E();
    const got: string[] = [];
    const a = (n: number) => got.push(`a${n}`);
    const b = (n: number) => got.push(`b${n}`);
    e.once('x', a);
    e.once('x', b);
    e.off('x', a);
    e.fire(1);
    e.fire(2);
    expect(got).toEqual(['b1']);
    // The function once returns removes it too; a listener on both on and once is removed one registration at a time.
    const c = (n: number) => got.push(`c${n}`);
    e.once('x', c)();
    e.on('x', c);
    e.once('x', c);
    e.off('x', c);
    e.fire(3);
    e.off('x', c);
    e.fire(4);
    expect(got).toEqual(['b1', 'c3']);
  });
  it('reads a JWT exp without verifying; opaque tokens have none', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'a', exp: 1767225600 })).toString('base64url');
    expect(jwtExpiry(`h.${payload}.s`)).toBe(1767225600);
    expect(jwtExpiry('opaque')).toBeUndefined();
  });
  it('validates options and URLs with clear errors', () => {
    expect(() => new Switchboard('ftp://x', { autoConnect: false })).toThrow(/ws:\/\//);
    expect(() => new Switchboard('ws://x', { autoConnect: false, token: 5 as never })).toThrow(/token/);
    expect(() => new Switchboard('ws://x', { autoConnect: false, reconnect: { factor: 0.5 } })).toThrow(/reconnect.factor/);
    expect(() => new Switchboard('ws://x', { autoConnect: false, offlineQueue: { overflow: 'drop' as never } })).toThrow(/overflow/);
    const c = new Switchboard('https://rt.example.com', { autoConnect: false });
    expect(c.url).toBe('wss://rt.example.com/ws?batch=1');
  });
});

describe('Subscription recovery ordering', () => {
  const pub = (offset: number, epoch = 'e1') => ({ channel: 'c', data: offset, offset, epoch, ts: 0 });
  const make = () => {
    const sub = new Subscription('c', { unsubscribe() {}, resubscribe() {}, history: () => Promise.reject(new Error('no history here')), presenceUpdate: () => Promise.resolve({}) }, { since: { epoch: 'e1', offset: 3 } });
    const got: number[] = [];
    const events: string[] = [];
    sub.on('message', (m) => got.push(m.offset!));
    sub.on('recovered', (e) => events.push(`recovered:${e.count}`));
    sub.on('gap', (e) => events.push(`gap:${e.epoch}:${e.offset}`));
    return { sub, got, events };
  };

  it('live publications that overtake the recovering ack are delivered after the replay, once, in order', () => {
    const { sub, got, events } = make();
    expect(sub.subscribeFrame('s1').since).toEqual({ epoch: 'e1', offset: 3 });
    sub.handleMessage(pub(6));
    sub.handleMessage(pub(7));
    sub.handleAck({ type: 'ack', id: 's1', epoch: 'e1', offset: 6, recovered: true, publications: [pub(4), pub(5), pub(6)] });
    sub.handleMessage(pub(7)); // a duplicate
    sub.handleMessage(pub(8));
    expect(got).toEqual([4, 5, 6, 7, 8]);
    expect(events).toEqual(['recovered:3']);
    expect(sub.position).toEqual({ epoch: 'e1', offset: 8 });
  });

  it('an unrecoverable position reports a gap, then live publications go on', () => {
    const { sub, got, events } = make();
    sub.subscribeFrame('s1');
    sub.handleMessage(pub(2, 'e2'));
    sub.handleAck({ type: 'ack', id: 's1', epoch: 'e2', offset: 1, recovered: false, publications: [] });
    expect(events).toEqual(['gap:e2:1']);
    expect(got).toEqual([2]);
  });

  it('a lost connection drops what was held: it is replayed from the unchanged position', () => {
    const { sub, got } = make();
    sub.subscribeFrame('s1');
    sub.handleMessage(pub(5));
    sub.handleLost();
    expect(sub.subscribeFrame('s2').since).toEqual({ epoch: 'e1', offset: 3 });
    sub.handleAck({ type: 'ack', id: 's2', epoch: 'e1', offset: 5, recovered: true, publications: [pub(4), pub(5)] });
    expect(got).toEqual([4, 5]);
  });
});

describe('the HTTP sender splits its outbox into bounded /send bodies', () => {
  it('at most MAX_BODY_FRAMES frames and MAX_BODY_CHARS characters a body, in order; a larger frame goes alone', () => {
    const outbox = Array.from({ length: 300 }, (_, i) => `{"type":"publish","id":${i}}`);
    const bodies: string[] = [];
    while (outbox.length > 0) bodies.push(nextBody(outbox));
    expect(bodies.map((b) => b.split('\n').length)).toEqual([MAX_BODY_FRAMES, MAX_BODY_FRAMES, 300 - 2 * MAX_BODY_FRAMES]);
    expect(bodies.join('\n').split('\n').map((l) => JSON.parse(l).id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const big = 'x'.repeat(MAX_BODY_CHARS - 1);
    const mixed = ['a', big, 'b', 'y'.repeat(MAX_BODY_CHARS + 5), 'c', 'd'];
    const out: string[] = [];
    while (mixed.length > 0) out.push(nextBody(mixed));
    // lengths only (a failure should not print 64 K characters)
    expect(out.map((b) => b.length)).toEqual([1, MAX_BODY_CHARS - 1, 1, MAX_BODY_CHARS + 5, 3]);
    expect(out.every((b) => b.length <= MAX_BODY_CHARS || !b.includes('\n'))).toBe(true);
  });
});
