import { describe, expect, it } from 'vitest';
import { runWith } from '../contract-fixtures.ts';
import { accessRefusal, type AccessStore } from './access-store.ts';

/** A store under test and its controllable clock (Unix ms, starting at `START_MS`). */
export interface AccessStoreFixture {
  store: AccessStore;
  /** Moves the store's clock forward. */
  advance(ms: number): void;
  dispose?(): Promise<void> | void;
}

/** Where every fixture's clock starts. */
export const START_MS = 1_767_225_600_000;

/**
 * The behaviour every AccessStore implements. `create` builds a fresh, empty store whose
 * clock starts at `START_MS` and moves only when the fixture's `advance` is called.
 */
export function runAccessStoreContract(o: { name: string; create(): Promise<AccessStoreFixture> | AccessStoreFixture }): void {
  describe(`AccessStore contract: ${o.name}`, () => {
    const withStore = runWith(o.create, async (f: AccessStoreFixture) => {
      await f.store.close();
      await f.dispose?.();
    });

    it('knows nothing of a user never blocked or revoked', () => withStore(async ({ store }) => {
      expect(await store.get('alice')).toBeUndefined();
      await store.unblock('alice');
      expect(await store.get('alice')).toBeUndefined();
    }));

    it('a block without end holds until unblock; the reason is kept', () => withStore(async ({ store, advance }) => {
      await store.block('alice', Infinity, 'spam');
      advance(365 * 86_400_000);
      expect(await store.get('alice')).toEqual({ blockedUntil: Infinity, reason: 'spam' });
      expect(await store.get('bob')).toBeUndefined();
      await store.unblock('alice');
      expect(await store.get('alice')).toBeUndefined();
    }));

    it('a block with an end reads as absent once it has passed', () => withStore(async ({ store, advance }) => {
      await store.block('alice', START_MS + 1000);
      advance(999);
      expect(await store.get('alice')).toEqual({ blockedUntil: START_MS + 1000 });
      advance(1);
      expect(await store.get('alice')).toBeUndefined();
    }));

    it('a new block replaces the earlier one (end and reason)', () => withStore(async ({ store }) => {
      await store.block('alice', Infinity, 'first');
      await store.block('alice', START_MS + 5000);
      expect(await store.get('alice')).toEqual({ blockedUntil: START_MS + 5000 });
    }));

    it('a revocation only moves forward and outlives blocks and unblocks', () => withStore(async ({ store, advance }) => {
      await store.revoke('alice', 2000);
      await store.revoke('alice', 1000);
      expect(await store.get('alice')).toEqual({ revokedBefore: 2000 });
      await store.block('alice', START_MS + 10, 'x');
      expect(await store.get('alice')).toEqual({ blockedUntil: START_MS + 10, reason: 'x', revokedBefore: 2000 });
      await store.unblock('alice');
      expect(await store.get('alice')).toEqual({ revokedBefore: 2000 });
      await store.block('alice', START_MS + 10);
      advance(86_400_000);
      expect(await store.get('alice')).toEqual({ revokedBefore: 2000 });
      await store.revoke('alice', 3000);
      expect(await store.get('alice')).toEqual({ revokedBefore: 3000 });
    }));

    it('user ids that name object members are ordinary users', () => withStore(async ({ store }) => {
      for (const user of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        expect(await store.get(user)).toBeUndefined();
        await store.block(user, Infinity);
        expect(await store.get(user)).toEqual({ blockedUntil: Infinity });
      }
      expect(await store.get('valueOf')).toBeUndefined();
    }));

    it('bounds the stored reason', () => withStore(async ({ store }) => {
      await store.block('alice', Infinity, 'x'.repeat(10_000));
      expect((await store.get('alice'))?.reason).toHaveLength(200);
    }));
  });
}

describe('accessRefusal', () => {
  const now = START_MS;
  it('refuses blocked users whatever their credentials, until the block ends', () => {
    expect(accessRefusal({ blockedUntil: Infinity }, undefined, now)).toBe('blocked');
    expect(accessRefusal({ blockedUntil: now + 1 }, 10, now)).toBe('blocked');
    expect(accessRefusal({ blockedUntil: now }, 10, now)).toBeUndefined();
  });
  it('refuses tokens issued before a revocation, and tokens without iat; not token-less connections', () => {
    const e = { revokedBefore: 100 };
    expect(accessRefusal(e, 99, now)).toBe('token_revoked');
    expect(accessRefusal(e, 100, now)).toBeUndefined();
    expect(accessRefusal(e, null, now)).toBe('token_revoked');
    expect(accessRefusal(e, undefined, now)).toBeUndefined();
    expect(accessRefusal(undefined, null, now)).toBeUndefined();
  });
});
