import type { KV } from '@nats-io/kv';
import type { Session, SessionStore } from './session-store.ts';
import { newSessionId } from './session-id.ts';
import { hashed } from '../nats/names.ts';

type Stored = Session & { expiresAt: number };

/**
 * Sessions in a JetStream KV bucket shared by every node: one key per session (a hash of its
 * id, so the id never appears in a subject), expiring after their idle time by the store's
 * clock; the bucket's own age limit removes abandoned ones.
 */
export class NatsSessionStore implements SessionStore {
  private readonly kv: Promise<KV>;
  private readonly now: () => number;
  private readonly space: (key: string) => string;

  constructor(o: { kv: Promise<KV>; key: (k: string) => string; now?: () => number }) {
    this.kv = o.kv;
    this.space = o.key;
    this.now = o.now ?? Date.now;
  }

  private key(id: string): string {
    return this.space(hashed(id));
  }

  async create(user: string, idleTtlMs: number): Promise<Session> {
    const now = this.now();
    const s: Stored = { id: newSessionId(), user, createdAt: now, lastSeenAt: now, expiresAt: now + idleTtlMs };
    await (await this.kv).put(this.key(s.id), JSON.stringify(s));
    return { id: s.id, user, createdAt: now, lastSeenAt: now };
  }

  private async live(id: string): Promise<{ s: Stored; revision: number } | undefined> {
    const e = await (await this.kv).get(this.key(id));
    if (!e || e.operation !== 'PUT') return undefined;
    const s = e.json<Stored>();
    if (s.id !== id) return undefined;
    if (s.expiresAt <= this.now()) {
      await (await this.kv).delete(this.key(id)).catch(() => {});
      return undefined;
    }
    return { s, revision: e.revision };
  }

  async get(id: string): Promise<Session | undefined> {
    const r = await this.live(id);
    return r && { id: r.s.id, user: r.s.user, createdAt: r.s.createdAt, lastSeenAt: r.s.lastSeenAt };
  }

  async touch(id: string, idleTtlMs: number): Promise<void> {
    const r = await this.live(id);
    if (!r) return;
    const now = this.now();
    // Conditional: a session deleted meanwhile is not brought back.
    await (await this.kv).update(this.key(id), JSON.stringify({ ...r.s, lastSeenAt: now, expiresAt: now + idleTtlMs }), r.revision).catch(() => {});
  }

  async delete(id: string): Promise<void> {
    await (await this.kv).delete(this.key(id));
  }

  async close(): Promise<void> {}
}
