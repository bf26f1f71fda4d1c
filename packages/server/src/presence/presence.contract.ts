import { describe, expect, it } from 'vitest';
import { runWith } from '../contract-fixtures.ts';
import type { PresenceStore } from './presence-store.ts';

/** The behaviour every PresenceStore implements; `create` builds a fresh, empty store. */
export function runPresenceStoreContract(o: { name: string; create(): Promise<PresenceStore> | PresenceStore }): void {
  describe(`PresenceStore contract: ${o.name}`, () => {
    const withStore = runWith(o.create, (s: PresenceStore) => s.close());

    it('groups a channel\'s connections by user with info and counts', () => withStore(async (s) => {
      expect(await s.get('chat:a')).toEqual({});
      await s.add('chat:a', { client: 'c1', user: 'alice', info: { name: 'Alice' } });
      await s.add('chat:a', { client: 'c2', user: 'alice', info: { name: 'Alice' } });
      await s.add('chat:a', { client: 'c3', user: 'bob' });
      await s.add('chat:b', { client: 'c4', user: 'carol' });
      expect(await s.get('chat:a')).toEqual({
        alice: { user: 'alice', info: { name: 'Alice' }, connections: 2 },
        bob: { user: 'bob', connections: 1 },
      });
      expect(Object.keys(await s.get('chat:b'))).toEqual(['carol']);
    }));

    it('add again for a connection replaces its info (presence_update), without counting it twice', () => withStore(async (s) => {
      expect(await s.add('chat:u', { client: 'c1', user: 'alice', info: { status: 'here' } })).toBe(true);
      await s.add('chat:u', { client: 'c1', user: 'alice', info: { status: 'away' } });
      expect(await s.get('chat:u')).toEqual({ alice: { user: 'alice', info: { status: 'away' }, connections: 1 } });
      await s.add('chat:u', { client: 'c1', user: 'alice' });
      expect(await s.get('chat:u')).toEqual({ alice: { user: 'alice', connections: 1 } });
      expect(await s.remove('chat:u', 'c1')).toBe(true);
    }));

    it('lists users whose ids are Object.prototype names like any other', () => withStore(async (s) => {
      const users = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
      for (const [i, user] of users.entries()) {
        await s.add('chat:p', { client: `c${i}`, user, info: { i } });
        await s.add('chat:p', { client: `d${i}`, user, info: { i } });
      }
      const got = await s.get('chat:p');
      expect(Object.keys(got).sort()).toEqual([...users].sort());
      for (const [i, user] of users.entries()) expect(Object.getOwnPropertyDescriptor(got, user)?.value).toEqual({ user, info: { i }, connections: 2 });
      expect(JSON.parse(JSON.stringify(got)).__proto__).toEqual({ user: '__proto__', info: { i: 0 }, connections: 2 });
      expect(({} as Record<string, unknown>).connections).toBeUndefined(); // nothing leaked into Object.prototype
      for (const user of users) {
        expect(await s.userUp(user, 'c1')).toBe(true);
        expect(await s.userDown(user, 'c1')).toBe(0);
        expect(await s.settleOffline(user)).toBe(true);
      }
    }));

    it('online answers which of some users are announced online', () => withStore(async (s) => {
      expect(await s.online([])).toEqual([]);
      expect(await s.userUp('ann', 'c1')).toBe(true);
      expect(await s.userUp('ben', 'c2')).toBe(true);
      expect((await s.online(['ann', 'ben', 'cid'])).sort()).toEqual(['ann', 'ben']);
      expect(await s.userDown('ben', 'c2')).toBe(0);
      expect(await s.settleOffline('ben')).toBe(true);
      expect(await s.online(['ann', 'ben'])).toEqual(['ann']);
    }));

    it('add says whether the user\'s first connection came, remove whether its last one went', () => withStore(async (s) => {
      expect(await s.add('chat:f', { client: 'c1', user: 'alice', info: { n: 1 } })).toBe(true);
      expect(await s.add('chat:f', { client: 'c2', user: 'alice', info: { n: 1 } })).toBe(false);
      expect(await s.add('chat:f', { client: 'c2', user: 'alice', info: { n: 1 } })).toBe(false);
      expect(await s.add('chat:f', { client: 'c3', user: 'alice2' })).toBe(true); // a prefix of another id is another user
      expect(await s.add('chat:g', { client: 'c4', user: 'alice' })).toBe(true);
      expect(await s.remove('chat:f', 'c1')).toBe(false);
      expect(await s.remove('chat:f', 'c1')).toBe(false); // not there any more
      expect(await s.remove('chat:f', 'c2')).toBe(true);
      expect(await s.remove('chat:f', 'c3')).toBe(true);
      expect(await s.remove('chat:zzz', 'c9')).toBe(false);
      expect(await s.add('chat:f', { client: 'c5', user: 'alice' })).toBe(true);
    }));

    it('add and remove are idempotent; a user with no connection is not listed', () => withStore(async (s) => {
      await s.add('chat:a', { client: 'c1', user: 'alice' });
      await s.add('chat:a', { client: 'c1', user: 'alice' });
      expect((await s.get('chat:a')).alice!.connections).toBe(1);
      await s.remove('chat:a', 'c1');
      await s.remove('chat:a', 'c1');
      await s.remove('chat:zzz', 'c9');
      expect(await s.get('chat:a')).toEqual({});
    }));

    it('announces a user online once, however many connections it opens', () => withStore(async (s) => {
      expect(await s.userUp('alice', 'c1')).toBe(true);
      expect(await s.userUp('alice', 'c2')).toBe(false);
      expect(await s.userDown('alice', 'c1')).toBe(1);
      expect(await s.settleOffline('alice')).toBe(false);
      expect(await s.userDown('alice', 'c2')).toBe(0);
      expect(await s.settleOffline('alice')).toBe(true);
      expect(await s.settleOffline('alice')).toBe(false);
      expect(await s.userUp('alice', 'c3')).toBe(true);
    }));

    it('a user back within the grace neither goes offline nor online again', () => withStore(async (s) => {
      await s.userUp('alice', 'c1');
      expect(await s.userDown('alice', 'c1')).toBe(0);
      expect(await s.userUp('alice', 'c2')).toBe(false);
      expect(await s.settleOffline('alice')).toBe(false);
      expect(await s.userDown('alice', 'c2')).toBe(0);
      expect(await s.settleOffline('alice')).toBe(true);
    }));

    it('userDown of an unknown connection changes nothing', () => withStore(async (s) => {
      expect(await s.userDown('ghost', 'c1')).toBe(0);
      expect(await s.settleOffline('ghost')).toBe(false);
      await s.userUp('bob', 'c1');
      expect(await s.userDown('bob', 'c9')).toBe(1);
    }));

    it('concurrent userUp announces exactly once', () => withStore(async (s) => {
      const r = await Promise.all(Array.from({ length: 8 }, (_, i) => s.userUp('dave', `c${i}`)));
      expect(r.filter(Boolean)).toHaveLength(1);
    }));
  });
}
