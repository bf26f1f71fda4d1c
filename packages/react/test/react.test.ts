import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElement, StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { Switchboard, MemoryStorage, type WebSocketConstructor } from '@switchboard/client';
import { startGateway } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { SwitchboardProvider, holders, useConnectionState, usePresence, usePublish, useSubscription } from '../src/index.ts';
import { holdChannel } from '../src/channels.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ auth: { allowAnonymous: true }, namespaces: { chat: { presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true }, doc: { delta: 'fossil', allowSubscribe: true, allowPublish: true } } });
});
afterAll(() => gw.close());

const nextTask = () => new Promise((r) => setTimeout(r, 0));

describe('server-side rendering', () => {
  it('renders the hooks\' initial values and opens no socket', async () => {
    let sockets = 0;
    const Counting = class extends (globalThis.WebSocket as unknown as WebSocketConstructor) {
      constructor(url: string) {
        super(url);
        sockets++;
      }
    } as unknown as WebSocketConstructor;
    function Room() {
      const { state, messages } = useSubscription('chat:lobby');
      const people = usePresence('chat:lobby');
      const connection = useConnectionState();
      const publish = usePublish();
      return createElement('p', null, `${connection}|${state}|${messages.length}|${people.length}|${typeof publish}`);
    }
    const html = renderToString(createElement(StrictMode, null, createElement(SwitchboardProvider, { url: gw.wsUrl, options: { name: 'ssr', WebSocket: Counting } }, createElement(Room))));
    expect(html).toBe('<p>disconnected|idle|0|0|function</p>');
    await nextTask();
    expect(sockets).toBe(0);
    expect([...gw.node.connections].filter((c) => c.user === 'ssr')).toHaveLength(0);
  });

  it('a hook outside a provider says so', () => {
    const Lost = () => createElement('p', null, useConnectionState());
    expect(() => renderToString(createElement(Lost))).toThrow(/inside a <SwitchboardProvider>/);
  });
});

describe('shared channel references (strict mode\'s unmount-and-mount-again)', () => {
  const offline = () => new Switchboard(gw.wsUrl, { name: 'refs', autoConnect: false, storage: new MemoryStorage(), window: null });

  it('two holders share one subscription; it is left after the last lets go, one task later', async () => {
    const client = offline();
    const a = holdChannel(client, 'chat:a');
    const b = holdChannel(client, 'chat:a');
    expect(a.sub).toBe(b.sub);
    expect(holders(client, 'chat:a')).toBe(2);
    a.release();
    a.release(); // twice is once
    expect(holders(client, 'chat:a')).toBe(1);
    b.release();
    expect(a.sub.state).toBe('subscribing'); // not yet: a remount may take it back in this task
    await nextTask();
    expect(a.sub.state).toBe('unsubscribed');
    expect(client.getSubscription('chat:a')).toBeUndefined();
  });

  it('released and held again in the same task (strict mode): the same subscription, never left', async () => {
    const client = offline();
    const first = holdChannel(client, 'chat:b');
    first.release();
    const second = holdChannel(client, 'chat:b');
    expect(second.sub).toBe(first.sub);
    await nextTask();
    expect(second.sub.state).toBe('subscribing');
    expect(client.getSubscription('chat:b')).toBe(first.sub);
    second.release();
    await nextTask();
    // held after it was left: a new subscription
    const third = holdChannel(client, 'chat:b');
    expect(third.sub).not.toBe(first.sub);
    third.release();
  });

  it('passes subscribe options: a holder asking for delta compression gets it, and full data', async () => {
    const client = new Switchboard(gw.wsUrl, { name: 'refs-delta', storage: new MemoryStorage(), window: null });
    try {
      const held = holdChannel(client, 'doc:shared', { delta: 'fossil' });
      await held.sub.ready();
      expect(held.sub.delta).toBe(true);
      const got: unknown[] = [];
      held.sub.on('message', (m) => got.push(m.data));
      const doc = (n: number) => ({ title: 'shared', body: 'x'.repeat(2000), n });
      for (let n = 1; n <= 3; n++) await client.publish('doc:shared', doc(n));
      await waitFor(() => got.length === 3, 10_000, 'three publications');
      expect(got).toEqual([doc(1), doc(2), doc(3)]);
      held.release();
    } finally {
      client.close();
    }
  });

  it('against the gateway: hold, release, hold in one task subscribes once', async () => {
    const client = new Switchboard(gw.wsUrl, { name: 'refs-live', storage: new MemoryStorage(), window: null });
    try {
      const a = holdChannel(client, 'chat:live');
      a.release();
      const b = holdChannel(client, 'chat:live');
      await b.sub.ready();
      await nextTask();
      const conn = await waitFor(() => [...gw.node.connections].find((c) => c.user === 'refs-live'));
      const rooms = () => [...conn.subscriptions.keys()].filter((k) => !k.startsWith('#')); // not the personal channel
      expect(rooms()).toEqual(['chat:live']);
      b.release();
      await waitFor(() => rooms().length === 0, 10_000, 'the gateway saw the unsubscribe');
    } finally {
      client.close();
    }
  });
});
