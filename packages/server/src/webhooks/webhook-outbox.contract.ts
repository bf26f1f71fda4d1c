import { describe, expect, it } from 'vitest';
import { disposedAfterEach } from '../contract-fixtures.ts';
import type { WebhookEvent, WebhookOutbox } from './webhook-outbox.ts';

/** One outbox under test; `reopen` (durable and shared outboxes) gives another one on the same data. */
export interface WebhookOutboxFixture {
  outbox: WebhookOutbox;
  reopen?: () => Promise<WebhookOutbox>;
  dispose?: () => Promise<void> | void;
}

const event = (n: number): WebhookEvent => ({ id: `evt_${n}`, type: 'user.online', ts: 1000 + n, user: `u${n}` });

/** The contract every WebhookOutbox keeps (see the interface). */
export function runWebhookOutboxContract(o: { name: string; durable: boolean; shared?: boolean; create(): Promise<WebhookOutboxFixture> | WebhookOutboxFixture }): void {
  describe(`WebhookOutbox contract: ${o.name}`, () => {
    const make = disposedAfterEach(o.create);

    it('answers due events oldest first, bounded, and leases them', async () => {
      const { outbox } = await make();
      for (const n of [1, 2, 3]) await outbox.add(event(n));
      expect((await outbox.due(5000, 2, 1000)).map((e) => e.event.id)).toEqual(['evt_1', 'evt_2']);
      expect((await outbox.due(5000, 10, 1000)).map((e) => e.event.id)).toEqual([]); // the leased head holds the rest
      expect((await outbox.due(6001, 10, 1000)).map((e) => [e.event.id, e.attempts])).toEqual([['evt_1', 0], ['evt_2', 0], ['evt_3', 0]]);
      expect(await outbox.size()).toBe(3);
    });

    it('a retry waiting holds up later events; done removes', async () => {
      const { outbox } = await make();
      for (const n of [1, 2]) await outbox.add(event(n));
      await outbox.retry('evt_1', 1, 9000);
      expect(await outbox.due(5000, 10, 100)).toEqual([]);
      const [first] = await outbox.due(9000, 1, 100);
      expect(first).toMatchObject({ event: event(1), attempts: 1 });
      await outbox.done('evt_1');
      await outbox.done('evt_missing');
      expect((await outbox.due(9000, 10, 100)).map((e) => e.event)).toEqual([event(2)]);
      expect(await outbox.size()).toBe(1);
    });

    if (o.durable) {
      it('keeps events and their attempts across a reopen', async () => {
        const f = await make();
        await f.outbox.add(event(1));
        await f.outbox.add(event(2));
        await f.outbox.retry('evt_1', 2, 3000);
        const again = await f.reopen!();
        expect((await again.due(3000, 10, 100)).map((e) => [e.event, e.attempts])).toEqual([[event(1), 2], [event(2), 0]]);
      });
    }

    if (o.shared) {
      it('shared by several nodes: an entry goes to one node at a time; a lease that ran out lets another take it', async () => {
        const f = await make();
        const other = await f.reopen!();
        expect(f.outbox.shared && other.shared).toBe(true);
        for (let n = 1; n <= 10; n++) await f.outbox.add(event(n));
        await f.outbox.add(event(1)); // the same id again is a no-op
        expect(await other.size()).toBe(10);
        // Eight asks at once from two nodes: one gets the due head, the others nothing (it is leased).
        const got = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : f.outbox).due(5000, 5, 60_000)));
        expect(got.filter((g) => g.length > 0)).toHaveLength(1);
        expect(got.flat().map((e) => e.event.id)).toEqual(['evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
        // The node holding evt_1..evt_5 died: after the lease, the other takes them, in order.
        expect(await other.due(64_000, 3, 1000)).toEqual([]);
        expect((await other.due(65_001, 3, 1000)).map((e) => e.event.id)).toEqual(['evt_1', 'evt_2', 'evt_3']);
        await other.done('evt_1');
        expect((await f.outbox.due(70_000, 1, 1000)).map((e) => e.event.id)).toEqual(['evt_2']);
        expect(await f.outbox.size()).toBe(9);
      });
    }
  });
}
