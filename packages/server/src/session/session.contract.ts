import { describe, expect, it } from 'vitest';
import { runWith } from '../contract-fixtures.ts';
import type { SessionStore } from './session-store.ts';
import { isSessionIdShape } from './session-id.ts';

/** A store under test and its controllable clock. */
export interface SessionStoreFixture {
  store: SessionStore;
  /** Moves the store's clock forward. */
  advance(ms: number): void;
  /** Frees what the fixture holds (called after each test). */
  dispose?(): Promise<void> | void;
}

/**
 * The behaviour every SessionStore implements. `create` builds a fresh, empty store whose
 * clock starts at `now` and moves only when the fixture's `advance` is called.
 */
export function runSessionStoreContract(o: { name: string; create(): Promise<SessionStoreFixture> | SessionStoreFixture }): void {
  describe(`SessionStore contract: ${o.name}`, () => {
    const withStore = runWith(o.create, async (f: SessionStoreFixture) => {
      await f.store.close();
      await f.dispose?.();
    });

    it('creates sessions with private, unique, well-formed ids', () => withStore(async ({ store }) => {
      const a = await store.create('alice', 60_000);
      const b = await store.create('alice', 60_000);
      expect(isSessionIdShape(a.id)).toBe(true);
      expect(a.id).not.toBe(b.id);
      expect(a.user).toBe('alice');
      expect(a.lastSeenAt).toBe(a.createdAt);
    }));

    it('gets a session back by its id, and only by its id', () => withStore(async ({ store }) => {
      const a = await store.create('alice', 60_000);
      const got = await store.get(a.id);
      expect(got).toEqual({ id: a.id, user: 'alice', createdAt: a.createdAt, lastSeenAt: a.lastSeenAt });
      expect(await store.get(`${a.id.slice(0, -1)}${a.id.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
      expect(await store.get('s_unknownunknownunknown')).toBeUndefined();
    }));

    it('expires a session after its idle time', () => withStore(async ({ store, advance }) => {
      const a = await store.create('alice', 1000);
      advance(999);
      expect(await store.get(a.id)).toBeDefined();
      advance(1);
      expect(await store.get(a.id)).toBeUndefined();
    }));

    it('touch extends the idle expiry and records last use', () => withStore(async ({ store, advance }) => {
      const a = await store.create('alice', 1000);
      advance(800);
      await store.touch(a.id, 1000);
      advance(800);
      const got = await store.get(a.id);
      expect(got?.user).toBe('alice');
      expect(got!.lastSeenAt - got!.createdAt).toBe(800);
      advance(200);
      expect(await store.get(a.id)).toBeUndefined();
    }));

    it('touch does not revive an expired session, nor create an unknown one', () => withStore(async ({ store, advance }) => {
      const a = await store.create('alice', 1000);
      advance(1000);
      await store.touch(a.id, 1000);
      expect(await store.get(a.id)).toBeUndefined();
      await store.touch('s_neverexistedneverexisted', 1000);
      expect(await store.get('s_neverexistedneverexisted')).toBeUndefined();
    }));

    it('delete forgets a session and leaves others alone', () => withStore(async ({ store }) => {
      const a = await store.create('alice', 60_000);
      const b = await store.create('bob', 60_000);
      await store.delete(a.id);
      await store.delete(a.id);
      expect(await store.get(a.id)).toBeUndefined();
      expect((await store.get(b.id))?.user).toBe('bob');
    }));

    it('keeps many sessions apart, expired ones swept without touching live ones', () => withStore(async ({ store, advance }) => {
      const old = await Promise.all(Array.from({ length: 300 }, (_, i) => store.create(`u${i}`, 1000)));
      advance(2000);
      const live = await Promise.all(Array.from({ length: 300 }, (_, i) => store.create(`v${i}`, 1000)));
      for (const s of old.slice(0, 20)) expect(await store.get(s.id)).toBeUndefined();
      for (const [i, s] of live.entries()) expect((await store.get(s.id))?.user).toBe(`v${i}`);
    }));
  });
}
