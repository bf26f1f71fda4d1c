import { describe, expect, it } from 'vitest';
import { disposedAfterEach } from '../contract-fixtures.ts';
import type { OutboxEntry, WebhookEvent, WebhookOutbox } from './webhook-outbox.ts';

/** One outbox under test; `reopen` (durable and shared outboxes) gives another one on the same data. */
export interface WebhookOutboxFixture {
  outbox: WebhookOutbox;
  reopen?: () => Promise<WebhookOutbox>;
  dispose?: () => Promise<void> | void;
}

const event = (n: number, channel = 'chat:a'): WebhookEvent => ({ id: `evt_${n}`, type: 'publication', ts: 1000 + n, channel, publication: { n } });
const ids = (entries: readonly OutboxEntry[]) => entries.map((e) => e.event.id);

/** The contract every WebhookOutbox keeps (see the interface). */
export function runWebhookOutboxContract(o: { name: string; durable: boolean; shared?: boolean; create(): Promise<WebhookOutboxFixture> | WebhookOutboxFixture }): void {
  describe(`WebhookOutbox contract: ${o.name}`, () => {
    const make = disposedAfterEach(o.create);

    it('answers one key\'s due events oldest first, bounded, and leases them', async () => {
      const { outbox } = await make();
      for (const n of [1, 2, 3]) await outbox.add(event(n));
      expect(ids(await outbox.due(5000, 2, 1000, 5))).toEqual(['evt_1', 'evt_2']);
      expect(ids(await outbox.due(5000, 10, 1000, 5))).toEqual([]); // the leased head holds the rest of its key
      expect((await outbox.due(6001, 10, 1000, 5)).map((e) => [e.event.id, e.attempts])).toEqual([['evt_1', 0], ['evt_2', 0], ['evt_3', 0]]);
      expect(await outbox.size()).toBe(3);
    });

    it('keys go in parallel: one entry per key by default, in the order added; a key in flight or waiting for a retry gives nothing, others go on', async () => {
      const { outbox } = await make();
      await outbox.add(event(1, 'chat:a'));
      await outbox.add(event(2, 'chat:b'));
      await outbox.add(event(3, 'chat:a'));
      await outbox.add({ id: 'evt_4', type: 'user.online', ts: 1004, user: 'alice' });
      await outbox.add({ id: 'evt_5', type: 'user.offline', ts: 1005, user: 'alice' });
      await outbox.add({ id: 'evt_6', type: 'member.added', ts: 1006, channel: 'chat:b', user: 'alice' });
      // Default: at most one per key.
      expect(ids(await outbox.due(5000, 10, 60_000))).toEqual(['evt_1', 'evt_2', 'evt_4']);
      expect(ids(await outbox.due(5000, 10, 60_000))).toEqual([]);
      await outbox.done('evt_2');
      await outbox.retry('evt_4', 1, 9000); // alice's user key waits for its retry
      expect(ids(await outbox.due(5000, 10, 60_000))).toEqual(['evt_6']);
      await outbox.done('evt_1');
      expect(ids(await outbox.due(5000, 10, 60_000))).toEqual(['evt_3']);
      const [retried] = await outbox.due(9000, 10, 60_000);
      expect(retried).toMatchObject({ event: { id: 'evt_4' }, attempts: 1 });
      await outbox.done('evt_4');
      await outbox.done('evt_missing');
      expect(ids(await outbox.due(9000, 10, 60_000))).toEqual(['evt_5']);
      expect(await outbox.size()).toBe(3);
    });

    it('a retry waiting holds up its key; several per key when asked (a batch), in order', async () => {
      const { outbox } = await make();
      for (const n of [1, 2, 3]) await outbox.add(event(n));
      await outbox.add(event(4, 'chat:b'));
      await outbox.retry('evt_1', 1, 9000);
      expect(ids(await outbox.due(5000, 10, 60_000, 10))).toEqual(['evt_4']);
      const got = await outbox.due(9000, 10, 100, 2);
      expect(got.map((e) => [e.event.id, e.attempts])).toEqual([['evt_1', 1], ['evt_2', 0]]);
      expect(got[0]!.event).toEqual(event(1));
    });

    if (o.durable) {
      it('keeps events and their attempts across a reopen', async () => {
        const f = await make();
        await f.outbox.add(event(1));
        await f.outbox.add(event(2));
        await f.outbox.retry('evt_1', 2, 3000);
        const again = await f.reopen!();
        expect((await again.due(3000, 10, 100, 10)).map((e) => [e.event, e.attempts])).toEqual([[event(1), 2], [event(2), 0]]);
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
        const got = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : f.outbox).due(5000, 5, 60_000, 5)));
        expect(got.filter((g) => g.length > 0)).toHaveLength(1);
        expect(got.flat().map((e) => e.event.id)).toEqual(['evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
        // The node holding evt_1..evt_5 died: after the lease, the other takes them, in order.
        expect(await other.due(64_000, 3, 1000, 5)).toEqual([]);
        expect((await other.due(65_001, 3, 1000, 5)).map((e) => e.event.id)).toEqual(['evt_1', 'evt_2', 'evt_3']);
        await other.done('evt_1');
        expect((await f.outbox.due(70_000, 1, 1000)).map((e) => e.event.id)).toEqual(['evt_2']);
        expect(await f.outbox.size()).toBe(9);
      });

      it('shared, many keys: two nodes asking at once get each entry once and never two of a key at a time', async () => {
        const f = await make();
        const other = await f.reopen!();
        for (let round = 0; round < 3; round++) for (let k = 0; k < 20; k++) await f.outbox.add(event(round * 100 + k, `chat:${k}`));
        const got = (await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : f.outbox).due(5000, 4, 60_000)))).flat();
        expect(new Set(got.map((e) => e.event.channel)).size).toBe(got.length);
        expect(ids(got).sort()).toEqual(Array.from({ length: 20 }, (_, k) => `evt_${k}`).sort());
        for (const e of got) await (e.event.channel! < 'chat:5' ? other : f.outbox).done(e.event.id);
        const next = await other.due(5000, 100, 60_000);
        expect(ids(next).sort()).toEqual(Array.from({ length: 20 }, (_, k) => `evt_${100 + k}`).sort());
      });
    }
  });
}
