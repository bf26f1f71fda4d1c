import { describe, expect, test } from 'vitest';
import {
  CloseCode, closeReason, decodeClientFrame, decodeServerFrames, isGranted, isTerminalCloseCode,
  matchChannelPattern, parseChannel,
} from '../src/index.ts';

describe('codec', () => {
  test('valid commands decode', () => {
    for (const f of [
      { type: 'auth', token: 't' }, { type: 'subscribe', id: 1, channel: 'a:b', since: { epoch: 'e', offset: 0 } },
      { type: 'unsubscribe', channel: 'a' }, { type: 'publish', id: 'x', channel: 'a', data: null },
      { type: 'send', to: 'bob', data: 1 }, { type: 'presence', channel: 'a' },
      { type: 'history', channel: 'a', limit: 5, reverse: true }, { type: 'refresh', token: 't' }, { type: 'ping' }, { type: 'pong' },
    ]) {
      const r = decodeClientFrame(JSON.stringify(f));
      expect(r).toEqual({ ok: true, frame: f });
    }
  });

  test('non-JSON and non-objects are fatal', () => {
    for (const t of ['nope', '[]', '1', '"s"', 'null', '{']) expect(decodeClientFrame(t)).toMatchObject({ ok: false, fatal: true });
  });

  test('malformed commands are reply errors carrying the id', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ id: 3, type: 'subscribe' }, /channel/],
      [{ id: 3, type: 'publish', channel: 'a' }, /data/],
      [{ id: 3, type: 'history', channel: 'a', limit: -1 }, /limit/],
      [{ id: 3, type: 'subscribe', channel: 'a', since: { epoch: 'e', offset: 1.5 } }, /since/],
      [{ id: 3, type: 'wat' }, /unknown command/],
      [{ id: 3 }, /type/],
    ];
    for (const [f, msg] of cases) {
      const r = decodeClientFrame(JSON.stringify(f));
      expect(r.ok).toBe(false);
      if (!r.ok && !r.fatal) {
        expect(r.id).toBe(3);
        expect(r.error.code).toBe('bad_request');
        expect(r.error.message).toMatch(msg);
      } else throw new Error('expected a reply error');
    }
  });

  test('bad ids are refused', () => {
    const r = decodeClientFrame(JSON.stringify({ id: { x: 1 }, type: 'ping' }));
    expect(r).toMatchObject({ ok: false, fatal: false, id: undefined });
    expect(decodeClientFrame(JSON.stringify({ id: 'x'.repeat(129), type: 'ping' })).ok).toBe(false);
  });

  test('server batches split into frames', () => {
    expect(decodeServerFrames('[{"type":"ping"},{"type":"pong"}]')).toEqual([{ type: 'ping' }, { type: 'pong' }]);
    expect(decodeServerFrames('{"type":"ping"}')).toEqual([{ type: 'ping' }]);
  });
});

describe('codes', () => {
  test('terminal ranges', () => {
    expect(isTerminalCloseCode(3000)).toBe(false);
    expect(isTerminalCloseCode(3499)).toBe(false);
    expect(isTerminalCloseCode(3500)).toBe(true);
    expect(isTerminalCloseCode(3999)).toBe(true);
    expect(isTerminalCloseCode(4000)).toBe(false);
    expect(isTerminalCloseCode(4500)).toBe(true);
    expect(isTerminalCloseCode(1006)).toBe(false);
  });
  test('fixed reasons', () => {
    expect(closeReason(CloseCode.session_replaced)).toBe('session_replaced');
    expect(closeReason(3012)).toBe('no_pong');
    expect(closeReason(4321)).toBeUndefined();
  });
});

describe('channels', () => {
  test('parse', () => {
    expect(parseChannel('chat:lobby')).toEqual({ namespace: 'chat' });
    expect(parseChannel('chat:a:b')).toEqual({ namespace: 'chat' });
    expect(parseChannel('lobby')).toEqual({ namespace: '' });
    expect(parseChannel('#alice')).toEqual({ namespace: '#', owner: 'alice' });
    for (const bad of ['', '#', '#a b', 'chat:*', 'a/b', '../x', 'chat:', ':x', 'a b', 'x'.repeat(256), 'a\u0000', 'é']) {
      expect(typeof parseChannel(bad)).toBe('string');
    }
  });
  test('patterns', () => {
    expect(matchChannelPattern('chat:*', 'chat:lobby')).toBe(true);
    expect(matchChannelPattern('chat:*', 'chatx:lobby')).toBe(false);
    expect(matchChannelPattern('chat:lobby', 'chat:lobby')).toBe(true);
    expect(matchChannelPattern('a.b', 'aXb')).toBe(false);
    expect(matchChannelPattern('*', 'anything:at:all')).toBe(true);
    expect(isGranted(['x', 'room:*'], 'room:1')).toBe(true);
    expect(isGranted([], 'room:1')).toBe(false);
  });
});
