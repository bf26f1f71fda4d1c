import type { Session, SessionStore } from './session-store.ts';
import { newSessionId } from './session-id.ts';

/** Sessions in this process's memory, expiring after their idle time. */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session & { expiresAt: number }>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async create(user: string, idleTtlMs: number): Promise<Session> {
    const now = this.now();
    const s = { id: newSessionId(), user, createdAt: now, lastSeenAt: now, expiresAt: now + idleTtlMs };
    this.sessions.set(s.id, s);
    if (this.sessions.size % 1024 === 0) this.sweep();
    return { id: s.id, user, createdAt: now, lastSeenAt: now };
  }

  async get(id: string): Promise<Session | undefined> {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { id: s.id, user: s.user, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt };
  }

  async touch(id: string, idleTtlMs: number): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return;
    }
    s.lastSeenAt = this.now();
    s.expiresAt = s.lastSeenAt + idleTtlMs;
  }

  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async close(): Promise<void> {}

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
