import type { AdminStore, NodeHeader, NodeStats, StatsSample } from './admin-store.ts';

/** The admin store of a single node: sessions and stats in this process. */
export class MemoryAdminStore implements AdminStore {
  private readonly sessions = new Map<string, number>();
  private readonly stats = new Map<string, { node: NodeHeader; samples: StatsSample[]; expiresAt: number }>();
  private readonly now: () => number;

  constructor(o: { now?: () => number } = {}) {
    this.now = o.now ?? Date.now;
  }

  async createSession(digest: string, ttlMs: number): Promise<void> {
    this.sweep();
    this.sessions.set(digest, this.now() + ttlMs);
  }

  async sessionExpiry(digest: string): Promise<number | undefined> {
    const at = this.sessions.get(digest);
    if (at === undefined) return undefined;
    if (at <= this.now()) {
      this.sessions.delete(digest);
      return undefined;
    }
    return at;
  }

  async deleteSession(digest: string): Promise<void> {
    this.sessions.delete(digest);
  }

  async report(header: NodeHeader, sample: StatsSample, o: { keep: number; ttlMs: number }): Promise<void> {
    let entry = this.stats.get(header.id);
    if (!entry) this.stats.set(header.id, (entry = { node: header, samples: [], expiresAt: 0 }));
    entry.node = header;
    entry.samples.push(sample);
    if (entry.samples.length > o.keep) entry.samples.splice(0, entry.samples.length - o.keep);
    entry.expiresAt = this.now() + o.ttlMs;
  }

  async nodes(): Promise<NodeStats[]> {
    const now = this.now();
    const out: NodeStats[] = [];
    for (const [id, e] of this.stats) {
      if (e.expiresAt <= now) this.stats.delete(id);
      else out.push({ node: e.node, samples: [...e.samples] });
    }
    return out.sort((a, b) => (a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0));
  }

  async nodeIds(): Promise<string[]> {
    return (await this.nodes()).map((n) => n.node.id);
  }

  async forget(nodeId: string): Promise<void> {
    this.stats.delete(nodeId);
  }

  async close(): Promise<void> {}

  /** Expired sessions go when a new one is made (a login is rare; the map stays small). */
  private sweep(): void {
    const now = this.now();
    for (const [d, at] of this.sessions) if (at <= now) this.sessions.delete(d);
  }
}
