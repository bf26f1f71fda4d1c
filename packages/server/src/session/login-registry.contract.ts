import { describe, expect, it } from 'vitest';
import { runWith } from '../contract-fixtures.ts';
import type { LoginLimit, LoginRegistry } from './login-registry.ts';

const KICK1: LoginLimit = { maxPerUser: 1, onLimit: 'kick_oldest' };
const KICK2: LoginLimit = { maxPerUser: 2, onLimit: 'kick_oldest' };
const REJECT1: LoginLimit = { maxPerUser: 1, onLimit: 'reject_new' };

/** The behaviour every LoginRegistry implements; `create` builds a fresh, empty registry. */
export function runLoginRegistryContract(o: { name: string; create(): Promise<LoginRegistry> | LoginRegistry }): void {
  describe(`LoginRegistry contract: ${o.name}`, () => {
    const withRegistry = runWith(o.create, (r: LoginRegistry) => r.close());

    it('tabs of one login never evict each other', () => withRegistry(async (r) => {
      expect(await r.acquire('*', 'u', 'A', 'c1', KICK1)).toEqual({ admitted: true, evicted: [] });
      expect(await r.acquire('*', 'u', 'A', 'c2', KICK1)).toEqual({ admitted: true, evicted: [] });
      expect(await r.acquire('*', 'u', 'A', 'c3', REJECT1)).toEqual({ admitted: true, evicted: [] });
      expect(await r.logins('*', 'u')).toEqual(['A']);
    }));

    it('kick_oldest admits the new login and evicts the oldest ones', () => withRegistry(async (r) => {
      await r.acquire('*', 'u', 'A', 'a1', KICK2);
      await r.acquire('*', 'u', 'A', 'a2', KICK2);
      await r.acquire('*', 'u', 'B', 'b1', KICK2);
      expect(await r.acquire('*', 'u', 'C', 'c1', KICK2)).toEqual({ admitted: true, evicted: ['A'] });
      expect(await r.logins('*', 'u')).toEqual(['B', 'C']);
      expect(await r.acquire('*', 'u', 'D', 'd1', KICK1)).toEqual({ admitted: true, evicted: ['B', 'C'] });
      await r.release('*', 'u', 'A', 'a1');
      expect(await r.logins('*', 'u')).toEqual(['D']);
    }));

    it('reject_new refuses a new login past the limit and changes nothing', () => withRegistry(async (r) => {
      await r.acquire('*', 'u', 'A', 'a1', REJECT1);
      expect(await r.acquire('*', 'u', 'B', 'b1', REJECT1)).toEqual({ admitted: false, live: 1 });
      expect(await r.logins('*', 'u')).toEqual(['A']);
      await r.release('*', 'u', 'A', 'a1');
      expect(await r.acquire('*', 'u', 'B', 'b1', REJECT1)).toEqual({ admitted: true, evicted: [] });
    }));

    it('a login stops being live when its last connection is released', () => withRegistry(async (r) => {
      await r.acquire('*', 'u', 'A', 'a1', KICK1);
      await r.acquire('*', 'u', 'A', 'a2', KICK1);
      await r.release('*', 'u', 'A', 'a1');
      expect(await r.logins('*', 'u')).toEqual(['A']);
      await r.release('*', 'u', 'A', 'a2');
      await r.release('*', 'u', 'A', 'a2');
      await r.release('*', 'u', 'nobody', 'x');
      expect(await r.logins('*', 'u')).toEqual([]);
    }));

    it('keeps users and scopes apart', () => withRegistry(async (r) => {
      await r.acquire('*', 'u', 'A', 'a1', KICK1);
      expect(await r.acquire('*', 'v', 'B', 'b1', KICK1)).toEqual({ admitted: true, evicted: [] });
      expect(await r.acquire('ns:game', 'u', 'C', 'c1', KICK1)).toEqual({ admitted: true, evicted: [] });
      expect(await r.logins('*', 'u')).toEqual(['A']);
      expect(await r.logins('ns:game', 'u')).toEqual(['C']);
    }));

    it('concurrent new logins never exceed the limit', () => withRegistry(async (r) => {
      const results = await Promise.all(['A', 'B', 'C', 'D'].map((l) => r.acquire('*', 'u', l, `${l}1`, REJECT1)));
      expect(results.filter((x) => x.admitted)).toHaveLength(1);
      expect(await r.logins('*', 'u')).toHaveLength(1);
    }));
  });
}
