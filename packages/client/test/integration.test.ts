import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import type { Publication } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES });
});
afterEach(() => closeClients());
afterAll(() => gw.close());

describe('SDK: rewind', () => {
  it('subscribe(channel, {rewind: 3}) delivers the last three as messages, oldest first, then live ones once', async () => {
    const writer = makeClient(gw.wsUrl, { token: await token('alice') });
    for (const n of [1, 2, 3, 4, 5]) await writer.publish('chat:rewind', n);
    const reader = makeClient(gw.wsUrl, { token: await token('bob') });
    const sub = reader.subscribe('chat:rewind', { rewind: 3 });
    const got: Publication[] = [];
    sub.on('message', (m) => got.push(m));
    await sub.ready();
    expect(got.map((m) => m.data)).toEqual([3, 4, 5]);
    expect(sub.position?.offset).toBe(5);
    await writer.publish('chat:rewind', 6);
    await waitFor(() => got.length === 4);
    expect(got.map((m) => m.data)).toEqual([3, 4, 5, 6]);
  });
});
