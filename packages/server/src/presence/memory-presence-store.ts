import { groupByUser, type PresenceMember, type PresenceStore, type PresenceUser } from './presence-store.ts';

interface UserState {
  clients: Set<string>;
  announced: boolean;
}

/** Presence in this process's memory: exact for one node. */
export class MemoryPresenceStore implements PresenceStore {
  /** channel → client → member. */
  private readonly channels = new Map<string, Map<string, PresenceMember>>();
  private readonly users = new Map<string, UserState>();

  async add(channel: string, member: PresenceMember): Promise<void> {
    let members = this.channels.get(channel);
    if (!members) this.channels.set(channel, (members = new Map()));
    members.set(member.client, { ...member });
  }

  async remove(channel: string, client: string): Promise<void> {
    const members = this.channels.get(channel);
    if (!members || !members.delete(client)) return;
    if (members.size === 0) this.channels.delete(channel);
  }

  async get(channel: string): Promise<Record<string, PresenceUser>> {
    return groupByUser(this.channels.get(channel)?.values() ?? []);
  }

  async userUp(user: string, client: string): Promise<boolean> {
    let s = this.users.get(user);
    if (!s) this.users.set(user, (s = { clients: new Set(), announced: false }));
    s.clients.add(client);
    if (s.announced) return false;
    s.announced = true;
    return true;
  }

  async userDown(user: string, client: string): Promise<number> {
    const s = this.users.get(user);
    if (!s) return 0;
    s.clients.delete(client);
    if (s.clients.size === 0 && !s.announced) this.users.delete(user);
    return s.clients.size;
  }

  async settleOffline(user: string): Promise<boolean> {
    const s = this.users.get(user);
    if (!s || s.clients.size > 0 || !s.announced) return false;
    this.users.delete(user);
    return true;
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.users.clear();
  }
}
