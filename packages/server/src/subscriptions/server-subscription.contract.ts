import { describe, expect, it } from 'vitest';
import { disposedAfterEach } from '../contract-fixtures.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';

/** One store under test; `reopen` (durable stores) gives a store on the same data. */
export interface ServerSubscriptionFixture {
  store: ServerSubscriptionStore;
  reopen?: () => Promise<ServerSubscriptionStore>;
  dispose?: () => Promise<void> | void;
}

/** The contract every ServerSubscriptionStore keeps (see the interface). */
export function runServerSubscriptionContract(o: { name: string; durable: boolean; create(): Promise<ServerSubscriptionFixture> | ServerSubscriptionFixture }): void {
  describe(`ServerSubscriptionStore contract: ${o.name}`, () => {
    const make = disposedAfterEach(o.create);

    it('adds idempotently and lists in first-added order, bounded by max', async () => {
      const { store } = await make();
      await store.add('alice', 'chat:b');
      await store.add('alice', 'chat:a');
      await store.add('alice', 'chat:b');
      await store.add('alice', 'chat:c');
      expect(await store.list('alice', 10)).toEqual(['chat:b', 'chat:a', 'chat:c']);
      expect(await store.list('alice', 2)).toEqual(['chat:b', 'chat:a']);
    });

    it('removes one entry; removing an absent one is a no-op; users are independent', async () => {
      const { store } = await make();
      await store.add('alice', 'chat:a');
      await store.add('bob', 'chat:a');
      await store.remove('alice', 'chat:a');
      await store.remove('alice', 'chat:nope');
      await store.remove('nobody', 'chat:a');
      expect(await store.list('alice', 10)).toEqual([]);
      expect(await store.list('bob', 10)).toEqual(['chat:a']);
    });

    if (o.durable) {
      it('keeps entries across a reopen', async () => {
        const f = await make();
        await f.store.add('alice', 'chat:kept');
        await f.store.add('alice', 'chat:later');
        const again = await f.reopen!();
        expect(await again.list('alice', 10)).toEqual(['chat:kept', 'chat:later']);
      });
    }
  });
}
