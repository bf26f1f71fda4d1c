import type { AcquireResult, LoginLimit, LoginRegistry } from './login-registry.ts';

interface LiveLogin {
  clients: Set<string>;
  since: number;
}

/** Live logins in this process's memory: exact for one node. */
export class MemoryLoginRegistry implements LoginRegistry {
  /** `scope user` → login → its live connections (Map keeps insertion order: oldest first). */
  private readonly users = new Map<string, Map<string, LiveLogin>>();
  private seq = 0;

  async acquire(scope: string, user: string, login: string, client: string, limit: LoginLimit): Promise<AcquireResult> {
    const key = `${scope} ${user}`;
    let logins = this.users.get(key);
    if (!logins) this.users.set(key, (logins = new Map()));
    const live = logins.get(login);
    if (live) {
      live.clients.add(client);
      return { admitted: true, evicted: [] };
    }
    const evicted: string[] = [];
    if (logins.size >= limit.maxPerUser) {
      if (limit.onLimit === 'reject_new') return { admitted: false, live: logins.size };
      const oldestFirst = [...logins.entries()].sort((a, b) => a[1].since - b[1].since);
      for (const [name] of oldestFirst.slice(0, logins.size - limit.maxPerUser + 1)) {
        logins.delete(name);
        evicted.push(name);
      }
    }
    logins.set(login, { clients: new Set([client]), since: ++this.seq });
    return { admitted: true, evicted };
  }

  async release(scope: string, user: string, login: string, client: string): Promise<void> {
    const key = `${scope} ${user}`;
    const logins = this.users.get(key);
    const live = logins?.get(login);
    if (!logins || !live || !live.clients.delete(client)) return;
    if (live.clients.size === 0) logins.delete(login);
    if (logins.size === 0) this.users.delete(key);
  }

  async logins(scope: string, user: string): Promise<string[]> {
    const logins = this.users.get(`${scope} ${user}`);
    return logins ? [...logins.entries()].sort((a, b) => a[1].since - b[1].since).map(([name]) => name) : [];
  }

  async close(): Promise<void> {
    this.users.clear();
  }
}
