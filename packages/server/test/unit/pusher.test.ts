import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import PusherServer from 'pusher';
import { connectionIdOf, socketIdOf } from '../../src/protocols/pusher/socket-id.ts';
import { pusherChannel, pusherNameOf } from '../../src/protocols/pusher/apps.ts';
import { pusherEventOf, valueOfText } from '../../src/protocols/pusher/events.ts';
import { pusherEncoder } from '../../src/protocols/pusher/encoder.ts';
import { checkSignedRequest } from '../../src/protocols/pusher/http/request-auth.ts';
import { verifyAuth } from '../../src/protocols/pusher/signatures.ts';
import { parseConfig } from '../../src/config.ts';

/**
 * The Pusher adapter's pure parts: socket ids, channel and event mapping, frames, and
 * signatures checked against what the real `pusher` SDK signs. End to end with pusher-js,
 * Laravel Echo and the SDK: `test/pusher*.test.ts`.
 */
const app = parseConfig({ pusher: { apps: [{ id: 'a1', key: 'k1', secret: 'secret-0123456789', namespace: 'px' }] } }).pusher.apps[0]!;

describe('unit: Pusher protocol 7 adapter', () => {
  it('socket ids are connection ids written in decimal, both ways, for any connection id', () => {
    for (let i = 0; i < 200; i++) {
      const id = `c_${randomBytes(9).toString('base64url')}`;
      const sid = socketIdOf(id)!;
      expect(sid).toMatch(/^\d+\.\d+$/);
      expect(connectionIdOf(sid)).toBe(id);
    }
    expect(socketIdOf('not-an-id')).toBeUndefined();
    for (const bad of ['1.', '.1', '1.2.3', 'a.b', '99999999999.1', `1.${'9'.repeat(14)}`, '4294967296.0']) expect(connectionIdOf(bad)).toBeUndefined();
  });

  it('channel names: Pusher\'s alphabet in the app namespace, user channels are personal channels', () => {
    expect(pusherChannel(app, 'orders')).toEqual({ name: 'orders', kind: 'public', cache: false, channel: 'px:orders' });
    expect(pusherChannel(app, 'a-b_c=d@e,f.g;h')).toMatchObject({ channel: 'px:a-b_c=d@e,f.g;h' });
    expect(pusherChannel(app, 'private-encrypted-cache-x')).toMatchObject({ kind: 'encrypted', cache: true });
    expect(pusherChannel(app, 'presence-cache-x')).toMatchObject({ kind: 'presence', cache: true });
    expect(pusherChannel(app, '#server-to-user-42')).toMatchObject({ kind: 'user', channel: '#42', user: '42' });
    for (const bad of ['', 'a b', 'a:b', 'a*', 'x'.repeat(201), '#server-to-user-', '#other', 42]) expect(typeof pusherChannel(app, bad)).toBe('string');
    expect(pusherNameOf('px:presence-room')).toBe('presence-room');
    expect(pusherNameOf('#42')).toBe('#server-to-user-42');
  });

  it('event data: compact JSON of a non-string is parsed, anything else stays the string it was', () => {
    expect(valueOfText('{"a":1}')).toEqual({ a: 1 });
    expect(valueOfText('[1,2]')).toEqual([1, 2]);
    expect(valueOfText('12')).toBe(12);
    expect(valueOfText('null')).toBeNull();
    for (const kept of ['{"a": 1}', '"quoted"', 'plain', '', '12345678901234567890', '1.0', '{bad']) expect(valueOfText(kept)).toBe(kept);
    expect(pusherEventOf({ event: 'e', data: { a: 1 } })).toEqual({ event: 'e', data: '{"a":1}' });
    expect(pusherEventOf({ event: 'e', data: 'text' })).toEqual({ event: 'e', data: 'text' });
    expect(pusherEventOf({ event: 'e', data: { a: 1 }, more: 1 })).toEqual({ event: 'message', data: '{"event":"e","data":{"a":1},"more":1}' });
    expect(pusherEventOf({ event: 'pusher_internal:member_added', data: {} }).event).toBe('message');
    expect(pusherEventOf([1])).toEqual({ event: 'message', data: '[1]' });
  });

  it('frames: events on their Pusher channel, user_id on presence, position on history channels; close codes mapped', () => {
    const frame = (pub: object) => JSON.parse(pusherEncoder.publication({ ts: 1, channel: 'px:orders', data: { event: 'e', data: { a: 1 } }, ...pub }).toString());
    expect(frame({})).toEqual({ event: 'e', channel: 'orders', data: '{"a":1}' });
    expect(frame({ channel: 'px:presence-r', from: 'bob' })).toMatchObject({ channel: 'presence-r', user_id: 'bob' });
    expect(frame({ from: 'bob', epoch: 'e1', offset: 7 })).toEqual({ event: 'e', channel: 'orders', data: '{"a":1}', position: { epoch: 'e1', offset: 7 } });
    const joined = (first?: boolean) => pusherEncoder.event({ type: 'join', channel: 'px:presence-r', user: 'u', client: 'c', ...(first !== undefined ? { first } : {}) });
    expect(JSON.parse(joined(true)!.toString())).toEqual({ event: 'pusher_internal:member_added', channel: 'presence-r', data: '{"user_id":"u","user_info":null}' });
    expect(joined(false)).toBeUndefined();
    expect(pusherEncoder.close!({ code: 3001, reason: 'shutdown' } as never).code).toBe(4200);
    expect(pusherEncoder.close!({ code: 3502, reason: 'blocked' } as never).code).toBe(4009);
    expect(pusherEncoder.close!({ code: 4001, reason: 'x' } as never).code).toBe(4001);
  });

  it('signatures: what the pusher SDK signs verifies, in requests and channel authorizations; anything else does not', () => {
    const sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', useTLS: false });
    const body = JSON.stringify({ name: 'e', data: '{}', channels: ['orders'] });
    const path = `/apps/${app.id}/events`;
    const query = sdk.createSignedQueryString({ method: 'POST', path, body, params: { info: 'subscription_count' } });
    expect(() => checkSignedRequest(app, 'POST', `${path}?${query}`, body)).not.toThrow();
    expect(() => checkSignedRequest(app, 'POST', `${path}?${query}`, `${body} `)).toThrow(/body_md5/);
    expect(() => checkSignedRequest(app, 'GET', `${path}?${query}`, body)).toThrow(/Invalid signature/);
    expect(() => checkSignedRequest(app, 'POST', `${path}?${query.replace('info=subscription_count', 'info=user_count')}`, body)).toThrow(/Invalid signature/);
    expect(() => checkSignedRequest(app, 'POST', `${path}?${query}`, body, Date.now() + 601_000)).toThrow(/Timestamp expired/);
    expect(() => checkSignedRequest(app, 'POST', `${path}?${query}&auth_key=x`, body)).toThrow(/Duplicate/);
    const { auth } = sdk.authorizeChannel('1.2', 'private-x');
    expect(verifyAuth(app, '1.2:private-x', auth)).toBe(true);
    expect(verifyAuth(app, '1.3:private-x', auth)).toBe(false);
    expect(verifyAuth(app, '1.2:private-x', auth.replace(app.key, 'other'))).toBe(false);
    for (const bad of [undefined, 42, '', app.key, `${app.key}:`, `${app.key}:zz`]) expect(verifyAuth(app, '1.2:private-x', bad)).toBe(false);
  });

  it('configuration: apps validated (unique ids and keys), namespaces added, and the environment form', async () => {
    const { configFromEnv } = await import('../../src/config.ts');
    const c = parseConfig(configFromEnv({ SWITCHBOARD_PUSHER_APP_ID: '1', SWITCHBOARD_PUSHER_APP_KEY: 'key', SWITCHBOARD_PUSHER_APP_SECRET: 'secret-123', SWITCHBOARD_PUSHER_APP_CLIENT_EVENTS: 'true' }));
    expect(c.pusher.apps).toEqual([expect.objectContaining({ id: '1', key: 'key', namespace: 'pusher', clientEvents: true, maxPresenceMembers: 100, maxEventBytes: 10_240 })]);
    expect(Object.hasOwn(c.namespaces, 'pusher')).toBe(true);
    const several = parseConfig(configFromEnv({ SWITCHBOARD_PUSHER_APPS: JSON.stringify([{ id: 'a', key: 'ka', secret: 'secret-123', namespace: 'na' }, { id: 'b', key: 'kb', secret: 'secret-456', namespace: 'nb' }]) }));
    expect(several.pusher.apps.map((a) => a.namespace)).toEqual(['na', 'nb']);
    expect(() => configFromEnv({ SWITCHBOARD_PUSHER_APPS: '{' })).toThrow(/SWITCHBOARD_PUSHER_APPS/);
    expect(() => parseConfig({ pusher: { apps: [{ id: 'a', key: 'k', secret: 'secret-123', namespace: 'n' }, { id: 'a', key: 'k2', secret: 'secret-123', namespace: 'n' }] } })).toThrow(/pusher\.apps\.1\.id/);
    expect(() => parseConfig({ pusher: { apps: [{ id: 'a', key: 'k', secret: 'short', namespace: 'n' }] } })).toThrow(/pusher\.apps\.0\.secret/);
    expect(() => parseConfig({ pusher: { apps: [{ id: 'a', key: 'k', secret: 'secret-123', namespace: 'n:x' }] } })).toThrow(/pusher\.apps\.0\.namespace/);
  });
});
