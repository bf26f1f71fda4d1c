import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { MemoryStorage } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient, record, until } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES });
});
afterEach(() => closeClients());
afterAll(() => gw.close());

const live = (user: string) => [...gw.node.connections].filter((c) => c.user === user && c.state !== 'closed');

it('tokenStorageKey, empty storage, a provider: the provider is asked, and its token lands in storage for the other tabs', async () => {
  const storage = new MemoryStorage();
  let asked = 0;
  const first = makeClient(gw.wsUrl, { storage, tokenStorageKey: 'tok', token: async () => { asked++; return token('tina'); } });
  await until(first, 'connected');
  expect(first.user).toBe('tina');
  expect(asked).toBe(1);
  expect(storage.getItem('tok')).toMatch(/^ey/);
  // another tab (same storage, no provider of its own) connects with it, asking nobody
  const second = makeClient(gw.wsUrl, { storage, tokenStorageKey: 'tok' });
  await until(second, 'connected');
  expect(second.user).toBe('tina');
  expect(asked).toBe(1);
});

it('tokenStorageKey, empty storage, no provider: no doomed connection (no 3501); it waits and connects when a token arrives', async () => {
  const c = makeClient(gw.wsUrl, { storage: new MemoryStorage(), tokenStorageKey: 'empty' });
  const ev = record(c);
  await waitFor(() => ev.log.includes('disconnected:1000:no_token'), 10_000, 'waiting for a token');
  expect(c.state).toBe('disconnected');
  expect(ev.log).not.toContain('closed:3501:unauthorized');
  expect(ev.count('connecting')).toBe(1);
  c.setToken(await token('walt')); // a login (here, or in another tab through the storage key)
  await until(c, 'connected');
  expect(c.user).toBe('walt');
  expect(live('walt')).toHaveLength(1);
  expect(ev.log.filter((l) => l.startsWith('closed'))).toEqual([]);
});
