import { boundedReason, type AccessEntry, type AccessStore } from './access-store.ts';

/** Blocks and revocations of one process (`storage: memory`); lost on restart. */
export class MemoryAccessStore implements AccessStore {
  private readonly entries = new Map<string, AccessEntry>();
  private readonly now: () => number;

  constructor(o: { now?: () => number } = {}) {
    this.now = o.now ?? Date.now;
  }

  async block(user: string, untilMs: number, reason?: string): Promise<void> {
    const e = { ...this.entries.get(user), blockedUntil: untilMs };
    const r = boundedReason(reason);
    if (r === undefined) delete e.reason;
    else e.reason = r;
    this.entries.set(user, e);
  }

  async unblock(user: string): Promise<void> {
    const e = this.entries.get(user);
    if (!e) return;
    if (e.revokedBefore === undefined) this.entries.delete(user);
    else this.entries.set(user, { revokedBefore: e.revokedBefore });
  }

  async revoke(user: string, beforeSec: number): Promise<void> {
    const e = { ...this.entries.get(user) };
    e.revokedBefore = Math.max(e.revokedBefore ?? beforeSec, beforeSec);
    this.entries.set(user, e);
  }

  async get(user: string): Promise<AccessEntry | undefined> {
    const e = this.entries.get(user);
    if (!e) return undefined;
    const out: AccessEntry = {};
    if (e.blockedUntil !== undefined && e.blockedUntil > this.now()) {
      out.blockedUntil = e.blockedUntil;
      if (e.reason !== undefined) out.reason = e.reason;
    }
    if (e.revokedBefore !== undefined) out.revokedBefore = e.revokedBefore;
    return Object.keys(out).length > 0 ? out : undefined;
  }

  async close(): Promise<void> {}
}
