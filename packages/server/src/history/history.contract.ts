import { describe, expect, it } from 'vitest';
import { UNWRITTEN_EPOCH, type Publication } from '@switchboard/protocol';
import { publicationBytes, type AppendOptions, type HistoryOptions, type HistoryStore } from './history-store.ts';

/** A clock the contract moves by hand, so windows and ttl are tested without waiting. */
interface ManualClock {
  now: () => number;
  advance(ms: number): void;
}

export interface HistoryStoreContractOptions {
  /** A fresh, empty store that reads the time from `clock.now`. */
  create(clock: ManualClock): HistoryStore | Promise<HistoryStore>;
  /**
   * Durable stores only: closes `store` and opens it again on the same data (a restart).
   * When given, the contract checks that streams, keys and claims survive.
   */
  reopen?(store: HistoryStore, clock: ManualClock): Promise<HistoryStore>;
  /** How many rows (keys, entries) the store holds in all: reads of unknown channels must not add any. */
  stored?(store: HistoryStore): Promise<number>;
}

const KEEP: HistoryOptions = { size: 1000, ttlMs: 3_600_000 };
const WINDOW = 60_000;
const opts = (o: Partial<AppendOptions> = {}): AppendOptions => ({ ...KEEP, dedupWindowMs: WINDOW, ...o });

function manualClock(): ManualClock {
  let t = 1_767_225_600_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/**
 * The behaviour every HistoryStore keeps (architecture principle 5): run it against each
 * implementation with `runHistoryStoreContract({ create })`.
 */
export function runHistoryStoreContract(o: HistoryStoreContractOptions): void {
  const setup = async () => {
    const clock = manualClock();
    const store = await o.create(clock);
    const pub = (data: unknown, extra: Partial<Publication> = {}) => ({ channel: 'x', data, ts: clock.now(), ...extra });
    return { clock, store, pub };
  };

  describe('offsets and epochs', () => {
    it('numbers publications 1, 2, 3 … in call order, even when calls overlap', async () => {
      const { store, pub } = await setup();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append('c:a', pub(i), opts())));
      expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
      expect(results.every((r) => !r.duplicate)).toBe(true);
      const read = await store.read('c:a', { limit: 100, retention: KEEP });
      expect(read.publications.map((p) => p.data)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(read.position).toEqual({ epoch: results[0]!.epoch, offset: 50 });
      await store.close();
    });

    it('keeps channels apart and gives each its own epoch', async () => {
      const { store, pub } = await setup();
      const a = await store.append('c:a', pub(1), opts());
      const b = await store.append('c:b', pub(2), opts());
      await store.append('c:a', pub(3), opts());
      expect(b.offset).toBe(1);
      expect(a.epoch).not.toBe(b.epoch);
      expect(await store.position('c:a')).toEqual({ epoch: a.epoch, offset: 2 });
      await store.close();
    });

    it('answers an unwritten stream with the unwritten position; recovering from it replays from offset 1', async () => {
      const { store, pub } = await setup();
      const p0 = await store.position('c:new');
      expect(p0).toEqual({ epoch: UNWRITTEN_EPOCH, offset: 0 });
      const r0 = await store.read('c:other', { limit: 10, retention: KEEP });
      expect(r0).toEqual({ position: p0, publications: [], recoverable: true, more: false });
      expect((await store.read('c:other', { since: p0, limit: 10, retention: KEEP })).recoverable).toBe(true);
      expect((await store.read('c:other', { since: { epoch: 'gone', offset: 4 }, limit: 10, retention: KEEP })).recoverable).toBe(false);
      const a = await store.append('c:new', pub('first'), opts());
      await store.append('c:new', pub('second'), opts());
      expect(a).toMatchObject({ offset: 1, duplicate: false });
      expect(a.epoch).not.toBe(UNWRITTEN_EPOCH);
      const rec = await store.read('c:new', { since: p0, limit: 10, retention: KEEP });
      expect(rec.recoverable).toBe(true);
      expect(rec.publications.map((p) => [p.offset, p.data])).toEqual([[1, 'first'], [2, 'second']]);
      expect((await store.read('c:new', { since: p0, limit: 1, retention: KEEP })).publications.map((p) => p.data)).toEqual(['first']);
      await store.close();
    });

    it('recovering from the unwritten position fails once offset 1 is no longer retained', async () => {
      const { store, pub } = await setup();
      const small = { size: 2, ttlMs: 3_600_000 };
      for (let i = 1; i <= 3; i++) await store.append('c:gone', pub(i), opts(small));
      const r = await store.read('c:gone', { since: { epoch: UNWRITTEN_EPOCH, offset: 0 }, limit: 10, retention: small });
      expect(r).toMatchObject({ publications: [], recoverable: false, position: { offset: 3 } });
      await store.close();
    });

    it('a read or position of a channel never written stores nothing', async () => {
      const { store, pub } = await setup();
      await store.append('c:real', pub(1), opts());
      const before = o.stored ? await o.stored(store) : 0;
      for (let i = 0; i < 50; i++) {
        await store.read(`c:ghost-${i}`, { limit: 10, retention: KEEP });
        await store.read(`c:ghost-${i}`, { since: { epoch: 'x', offset: 3 }, limit: 10, reverse: true, retention: KEEP });
        await store.position(`c:ghost-${i}`);
      }
      if (o.stored) expect(await o.stored(store)).toBe(before);
      expect(await store.position('c:ghost-1')).toEqual({ epoch: UNWRITTEN_EPOCH, offset: 0 });
      await store.close();
    });

    it('round-trips every field of a publication', async () => {
      const { store, clock } = await setup();
      const data = { text: 'héllo ✓', n: [1, 2.5, null], nested: { ok: true } };
      const tags = { symbol: 'AAPL', 'a.b': 'é ✓', priority: '2' };
      const a = await store.append('c:f', { channel: 'c:f', data, from: 'alice', id: 'm-1', ts: clock.now(), tags }, opts({ idempotencyKey: 'm-1' }));
      await store.append('c:f', { channel: 'c:f', data: 'plain', id: 7, ts: clock.now() + 1 }, opts({ idempotencyKey: 7 }));
      await store.append('c:f', { channel: 'c:f', data: null, ts: clock.now() + 2 }, opts());
      const { publications } = await store.read('c:f', { limit: 10, retention: KEEP });
      expect(publications).toEqual([
        { channel: 'c:f', data, from: 'alice', id: 'm-1', ts: clock.now(), tags, offset: 1, epoch: a.epoch },
        { channel: 'c:f', data: 'plain', id: 7, ts: clock.now() + 1, offset: 2, epoch: a.epoch },
        { channel: 'c:f', data: null, ts: clock.now() + 2, offset: 3, epoch: a.epoch },
      ]);
      await store.close();
    });

    it('begins a new epoch after remove', async () => {
      const { store, pub } = await setup();
      const a = await store.append('c:r', pub(1), opts({ idempotencyKey: 'k' }));
      await store.remove('c:r');
      const p = await store.position('c:r');
      expect(p.offset).toBe(0);
      expect(p.epoch).not.toBe(a.epoch);
      expect((await store.read('c:r', { since: a, limit: 10, retention: KEEP })).recoverable).toBe(false);
      const b = await store.append('c:r', pub(2), opts({ idempotencyKey: 'k' }));
      expect(b).toMatchObject({ offset: 1, duplicate: false });
      expect([a.epoch, UNWRITTEN_EPOCH]).not.toContain(b.epoch);
      await store.close();
    });
  });

  describe('read', () => {
    const fill = async (n: number) => {
      const s = await setup();
      let epoch = '';
      for (let i = 1; i <= n; i++) epoch = (await s.store.append('c:r', s.pub(i), opts())).epoch;
      return { ...s, epoch };
    };
    const offsets = (r: { publications: Publication[] }) => r.publications.map((p) => p.offset);

    it('pages forward from since (exclusive), oldest first, up to limit', async () => {
      const { store, epoch } = await fill(10);
      expect(offsets(await store.read('c:r', { limit: 3, retention: KEEP }))).toEqual([1, 2, 3]);
      expect(offsets(await store.read('c:r', { since: { epoch, offset: 3 }, limit: 3, retention: KEEP }))).toEqual([4, 5, 6]);
      expect(offsets(await store.read('c:r', { since: { epoch, offset: 8 }, limit: 5, retention: KEEP }))).toEqual([9, 10]);
      const atTop = await store.read('c:r', { since: { epoch, offset: 10 }, limit: 5, retention: KEEP });
      expect(atTop).toEqual({ position: { epoch, offset: 10 }, publications: [], recoverable: true, more: false });
      await store.close();
    });

    it('pages backward with reverse, newest first, before since (exclusive)', async () => {
      const { store, epoch } = await fill(10);
      expect(offsets(await store.read('c:r', { limit: 3, reverse: true, retention: KEEP }))).toEqual([10, 9, 8]);
      expect(offsets(await store.read('c:r', { since: { epoch, offset: 8 }, limit: 3, reverse: true, retention: KEEP }))).toEqual([7, 6, 5]);
      expect(offsets(await store.read('c:r', { since: { epoch, offset: 3 }, limit: 5, reverse: true, retention: KEEP }))).toEqual([2, 1]);
      await store.close();
    });

    it('answers only the position for limit 0', async () => {
      const { store, epoch } = await fill(4);
      expect(await store.read('c:r', { limit: 0, retention: KEEP })).toEqual({ position: { epoch, offset: 4 }, publications: [], recoverable: true, more: false });
      await store.close();
    });

    it('refuses a since from another epoch or beyond the latest offset, with the current position', async () => {
      const { store, epoch } = await fill(4);
      for (const since of [{ epoch: 'not-it', offset: 2 }, { epoch, offset: 5 }]) {
        expect(await store.read('c:r', { since, limit: 10, retention: KEEP })).toEqual({ position: { epoch, offset: 4 }, publications: [], recoverable: false, more: false });
      }
      await store.close();
    });
  });

  describe('bounded reads', () => {
    it('says whether more publications are retained in the read direction (more)', async () => {
      const { store, pub } = await setup();
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await store.append('c:m', pub(i), opts())).epoch;
      const more = async (o: { since?: number; limit: number; reverse?: boolean }) =>
        (await store.read('c:m', { limit: o.limit, reverse: o.reverse, retention: KEEP, ...(o.since !== undefined ? { since: { epoch, offset: o.since } } : {}) })).more;
      expect(await more({ limit: 3 })).toBe(true);
      expect(await more({ since: 6, limit: 3 })).toBe(true);
      expect(await more({ since: 7, limit: 3 })).toBe(false);
      expect(await more({ since: 7, limit: 100 })).toBe(false);
      expect(await more({ since: 4, limit: 3, reverse: true })).toBe(false);
      expect(await more({ since: 5, limit: 3, reverse: true })).toBe(true);
      expect(await more({ limit: 10, reverse: true })).toBe(false);
      await store.close();
    });

    it('stops before the publication that would pass maxBytes (the first always comes); paging with since reaches every one', async () => {
      const { store, pub } = await setup();
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await store.append('c:b', pub({ i, pad: 'x'.repeat(1000) }), opts())).epoch;
      const size = publicationBytes((await store.read('c:b', { limit: 1, retention: KEEP })).publications[0]!);
      const bytes = (pubs: Publication[]) => pubs.reduce((n, p) => n + publicationBytes(p), 0);
      const bound = size * 3 + size / 2;
      const fwd = await store.read('c:b', { limit: 100, maxBytes: bound, retention: KEEP });
      expect(fwd.publications.map((p) => p.offset)).toEqual([1, 2, 3]);
      expect(fwd.more).toBe(true);
      expect(bytes(fwd.publications)).toBeLessThanOrEqual(bound);
      expect(fwd.bytes).toBe(bytes(fwd.publications)); // what the store reports is what it returned
      const back = await store.read('c:b', { limit: 100, maxBytes: bound, reverse: true, retention: KEEP });
      expect(back.publications.map((p) => p.offset)).toEqual([10, 9, 8]);
      expect(back.more).toBe(true);
      const tiny = await store.read('c:b', { since: { epoch, offset: 4 }, limit: 100, maxBytes: 1, retention: KEEP });
      expect(tiny.publications.map((p) => p.offset)).toEqual([5]);
      expect(tiny.more).toBe(true);
      const seen: number[] = [];
      let since = { epoch, offset: 0 };
      for (let pages = 0; pages < 20; pages++) {
        const r = await store.read('c:b', { since, limit: 100, maxBytes: bound, retention: KEEP });
        expect(bytes(r.publications)).toBeLessThanOrEqual(bound);
        seen.push(...r.publications.map((p) => p.offset!));
        if (!r.more) break;
        since = { epoch, offset: r.publications.at(-1)!.offset! };
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await store.close();
    });
  });

  describe('retention', () => {
    it('keeps at most size publications; a since before them is unrecoverable', async () => {
      const { store, pub } = await setup();
      const small = { size: 3, ttlMs: 3_600_000 };
      let epoch = '';
      for (let i = 1; i <= 7; i++) epoch = (await store.append('c:s', pub(i), opts(small))).epoch;
      const all = await store.read('c:s', { limit: 100, retention: small });
      expect(all.publications.map((p) => p.offset)).toEqual([5, 6, 7]);
      expect((await store.read('c:s', { since: { epoch, offset: 4 }, limit: 10, retention: small })).publications.map((p) => p.offset)).toEqual([5, 6, 7]);
      expect(await store.read('c:s', { since: { epoch, offset: 3 }, limit: 10, retention: small })).toEqual({ position: { epoch, offset: 7 }, publications: [], recoverable: false, more: false });
      await store.close();
    });

    it('drops publications older than ttl, on append and on read', async () => {
      const { store, pub, clock } = await setup();
      const short = { size: 1000, ttlMs: 10_000 };
      const { epoch } = await store.append('c:t', pub('old-1'), opts(short));
      await store.append('c:t', pub('old-2'), opts(short));
      clock.advance(6_000);
      await store.append('c:t', pub('young'), opts(short));
      clock.advance(6_000);
      const r = await store.read('c:t', { limit: 10, retention: short });
      expect(r.publications.map((p) => p.data)).toEqual(['young']);
      expect((await store.read('c:t', { since: { epoch, offset: 1 }, limit: 10, retention: short })).recoverable).toBe(false);
      expect((await store.read('c:t', { since: { epoch, offset: 2 }, limit: 10, retention: short })).recoverable).toBe(true);
      clock.advance(10_000);
      const empty = await store.read('c:t', { limit: 10, retention: short });
      expect(empty.publications).toEqual([]);
      expect(empty.position).toEqual({ epoch, offset: 3 });
      // Everything expired, but a client that saw offset 3 missed nothing.
      expect((await store.read('c:t', { since: { epoch, offset: 3 }, limit: 10, retention: short })).recoverable).toBe(true);
      expect((await store.append('c:t', pub('next'), opts(short))).offset).toBe(4);
      await store.close();
    });
  });

  describe('idempotency', () => {
    it('answers a key seen within the window with its first offset and stores nothing', async () => {
      const { store, pub } = await setup();
      const first = await store.append('c:i', pub('a'), opts({ idempotencyKey: 'm-1' }));
      await store.append('c:i', pub('b'), opts({ idempotencyKey: 'm-2' }));
      const again = await store.append('c:i', pub('a again'), opts({ idempotencyKey: 'm-1' }));
      expect(again).toEqual({ epoch: first.epoch, offset: 1, duplicate: true });
      const r = await store.read('c:i', { limit: 10, retention: KEEP });
      expect(r.publications.map((p) => p.data)).toEqual(['a', 'b']);
      expect(r.position.offset).toBe(2);
      await store.close();
    });

    it('scopes keys to a channel and tells numbers from strings', async () => {
      const { store, pub } = await setup();
      await store.append('c:i', pub(1), opts({ idempotencyKey: 1 }));
      expect((await store.append('c:i', pub(2), opts({ idempotencyKey: '1' }))).duplicate).toBe(false);
      expect((await store.append('c:j', pub(3), opts({ idempotencyKey: 1 }))).duplicate).toBe(false);
      expect((await store.append('c:i', pub(4), opts({ idempotencyKey: 1 }))).duplicate).toBe(true);
      await store.close();
    });

    it('remembers a key per publisher: another publisher\'s equal key is stored and answered for itself', async () => {
      const { store, pub } = await setup();
      const alice = await store.append('c:p', pub('alice'), opts({ idempotencyKey: 'order-42', publisher: 'u:alice' }));
      const bob = await store.append('c:p', pub('bob'), opts({ idempotencyKey: 'order-42', publisher: 'u:bob' }));
      const api = await store.append('c:p', pub('api'), opts({ idempotencyKey: 'order-42', publisher: 'api' }));
      expect([alice, bob, api].map((r) => [r.offset, r.duplicate])).toEqual([[1, false], [2, false], [3, false]]);
      expect(await store.append('c:p', pub('bob again'), opts({ idempotencyKey: 'order-42', publisher: 'u:bob' }))).toEqual({ ...bob, duplicate: true });
      expect(await store.append('c:p', pub('alice again'), opts({ idempotencyKey: 'order-42', publisher: 'u:alice' }))).toEqual({ ...alice, duplicate: true });
      // Publisher and id are kept apart however they are spelled.
      expect((await store.append('c:p', pub('x'), opts({ idempotencyKey: 'b|s:c', publisher: 'u:a' }))).duplicate).toBe(false);
      expect((await store.append('c:p', pub('y'), opts({ idempotencyKey: 'c', publisher: 'u:a|s:b' }))).duplicate).toBe(false);
      const r = await store.read('c:p', { limit: 10, retention: KEEP });
      expect(r.publications.map((p) => p.data)).toEqual(['alice', 'bob', 'api', 'x', 'y']);
      expect(await store.claimKey('n:p', 'order-42', WINDOW, 'u:alice')).toBe(true);
      expect(await store.claimKey('n:p', 'order-42', WINDOW, 'u:bob')).toBe(true);
      expect(await store.claimKey('n:p', 'order-42', WINDOW, 'api')).toBe(true);
      expect(await store.claimKey('n:p', 'order-42', WINDOW, 'u:bob')).toBe(false);
      await store.close();
    });

    it('forgets a key once the window has passed', async () => {
      const { store, pub, clock } = await setup();
      await store.append('c:i', pub('a'), opts({ idempotencyKey: 'k' }));
      clock.advance(WINDOW - 1);
      expect((await store.append('c:i', pub('a'), opts({ idempotencyKey: 'k' }))).duplicate).toBe(true);
      clock.advance(2);
      expect(await store.append('c:i', pub('a'), opts({ idempotencyKey: 'k' }))).toMatchObject({ offset: 2, duplicate: false });
      await store.close();
    });

    it('claims keys for channels without history, once per window', async () => {
      const { store, clock } = await setup();
      expect(await store.claimKey('n:a', 'k', WINDOW)).toBe(true);
      expect(await store.claimKey('n:a', 'k', WINDOW)).toBe(false);
      expect(await store.claimKey('n:b', 'k', WINDOW)).toBe(true);
      expect(await store.claimKey('n:a', 7, WINDOW)).toBe(true);
      expect(await store.claimKey('n:a', '7', WINDOW)).toBe(true);
      clock.advance(WINDOW);
      expect(await store.claimKey('n:a', 'k', WINDOW)).toBe(true);
      expect(await store.claimKey('n:a', 'k', WINDOW)).toBe(false);
      await store.close();
    });
  });

  if (o.reopen) {
    const reopen = o.reopen;
    describe('durability', () => {
      it('keeps epochs, offsets, publications, keys and claims across a restart', async () => {
        const { store, pub, clock } = await setup();
        const a = await store.append('c:d', pub('one'), opts({ idempotencyKey: 'm-1' }));
        await store.append('c:d', pub('alice'), opts({ idempotencyKey: 'm-1', publisher: 'u:alice' }));
        await store.append('c:d', pub('two'), opts());
        const empty = await store.position('c:empty');
        await store.claimKey('n:d', 'k', WINDOW);
        await store.claimKey('n:d', 'k', WINDOW, 'u:alice');
        const again = await reopen(store, clock);
        expect(await again.position('c:d')).toEqual({ epoch: a.epoch, offset: 3 });
        expect(await again.position('c:empty')).toEqual(empty);
        const r = await again.read('c:d', { since: { epoch: a.epoch, offset: 0 }, limit: 10, retention: KEEP });
        expect(r.publications.map((p) => p.data)).toEqual(['one', 'alice', 'two']);
        expect(await again.append('c:d', pub('one'), opts({ idempotencyKey: 'm-1' }))).toEqual({ epoch: a.epoch, offset: 1, duplicate: true });
        expect(await again.append('c:d', pub('alice'), opts({ idempotencyKey: 'm-1', publisher: 'u:alice' }))).toEqual({ epoch: a.epoch, offset: 2, duplicate: true });
        expect(await again.append('c:d', pub('bob'), opts({ idempotencyKey: 'm-1', publisher: 'u:bob' }))).toMatchObject({ offset: 4, duplicate: false });
        expect(await again.claimKey('n:d', 'k', WINDOW)).toBe(false);
        expect(await again.claimKey('n:d', 'k', WINDOW, 'u:alice')).toBe(false);
        expect(await again.claimKey('n:d', 'k', WINDOW, 'u:bob')).toBe(true);
        expect((await again.append('c:d', pub('three'), opts())).offset).toBe(5);
        await again.close();
      });
    });
  }
}
