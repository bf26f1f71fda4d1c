import { groupByUser, type PresenceMember, type PresenceStore, type PresenceUser } from './presence-store.ts';

interface UserState {
  /** The user's client ids: the one id itself while there is one (no Set per idle user). */
  clients: string | Set<string>;
  announced: boolean;
}

function countOf(clients: string | Set<string> | undefined): number {
  return clients === undefined ? 0 : typeof clients === 'string' ? 1 : clients.size;
}

/** True when a connection other than `except` of `user` is among `members`. */
function hasUser(members: ReadonlyMap<string, PresenceMember>, user: string, except: string): boolean {
  for (const m of members.values()) if (m.user === user && m.client !== except) return true;
  return false;
}

/** Presence in this process's memory: exact for one node. */
export class MemoryPresenceStore implements PresenceStore {
  /** channel → client → member. */
  private readonly channels = new Map<string, Map<string, PresenceMember>>();
  private readonly users = new Map<string, UserState>();

  async add(channel: string, member: PresenceMember): Promise<boolean> {
    let members = this.channels.get(channel);
    if (!members) this.channels.set(channel, (members = new Map()));
    const first = !hasUser(members, member.user, member.client);
    members.set(member.client, { ...member });
    return first;
  }

  async remove(channel: string, client: string): Promise<boolean> {
    const members = this.channels.get(channel);
    const gone = members?.get(client);
    if (!members || !gone) return false;
    members.delete(client);
    if (members.size === 0) this.channels.delete(channel);
    return !hasUser(members, gone.user, client);
  }

  async get(channel: string): Promise<Record<string, PresenceUser>> {
    return groupByUser(this.channels.get(channel)?.values() ?? []);
  }

  async userUp(user: string, client: string): Promise<boolean> {
    let s = this.users.get(user);
    if (!s) this.users.set(user, (s = { clients: client, announced: false }));
    else if (typeof s.clients !== 'string') s.clients.add(client);
    else if (s.clients !== client) s.clients = new Set([s.clients, client]);
    if (s.announced) return false;
    s.announced = true;
    return true;
  }

  async userDown(user: string, client: string): Promise<number> {
    const s = this.users.get(user);
    if (!s) return 0;
    if (typeof s.clients !== 'string') s.clients.delete(client);
    else if (s.clients === client) s.clients = new Set();
    const left = countOf(s.clients);
    if (left === 0 && !s.announced) this.users.delete(user);
    return left;
  }

  async settleOffline(user: string): Promise<boolean> {
    const s = this.users.get(user);
    if (!s || countOf(s.clients) > 0 || !s.announced) return false;
    this.users.delete(user);
    return true;
  }

  async online(users: readonly string[]): Promise<string[]> {
    return users.filter((u) => this.users.get(u)?.announced === true);
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.users.clear();
  }
}
