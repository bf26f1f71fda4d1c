import { groupByUser, type PresenceMember, type PresenceStore, type PresenceUser } from './presence-store.ts';
import type { CasBucket } from '../nats/cas-bucket.ts';
import type { NatsLiveness } from '../nats/liveness.ts';
import { token } from '../nats/names.ts';
import type { Logger } from '../logger.ts';

/** A connection in a channel's presence, with the node that holds it. */
interface Member { c: string; u: string; i?: unknown; n: string }
/** A user's connections and whether it was announced online. */
interface UserState { c: Array<{ c: string; n: string }>; up: boolean }

export interface NatsPresenceStoreOptions {
  bucket: CasBucket;
  /** Keys of this store in the bucket. */
  key: (k: string) => string;
  liveness: NatsLiveness;
  /** How often this node looks for users of dead nodes (ms). Default 10 000. */
  sweepMs?: number;
  onUserExpired?: (user: string) => void;
  log?: Logger;
}

/**
 * Presence in a JetStream KV bucket shared by every node: a value per channel (its
 * connections) and per user (its connections and whether it is announced online), each
 * connection naming its node; changed with `CasBucket`, so "first connection", "last
 * connection" and "announced once" are decided exactly across nodes. A connection counts
 * while its node is live (`NatsLiveness`). Users whose last connections were on a node that
 * died are settled offline by the first live node's sweep (`onUserExpired`, once
 * cluster-wide): every node lists the users it holds under `users.<node>`.
 */
export class NatsPresenceStore implements PresenceStore {
  private readonly o: NatsPresenceStoreOptions;
  private readonly me: string;
  private readonly registered = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(o: NatsPresenceStoreOptions) {
    this.o = o;
    this.me = o.liveness.id;
    this.sweeper = setInterval(() => void this.sweep().catch((err) => o.log?.warn({ err: (err as Error).message }, 'presence sweep failed')), o.sweepMs ?? 10_000);
    this.sweeper.unref();
  }

  private channelKey(channel: string): string {
    return this.o.key(`ch.${token(channel)}`);
  }

  private userKey(user: string): string {
    return this.o.key(`us.${token(user)}`);
  }

  /** The nodes of what `key` holds now that are no longer live (their entries do not count). */
  private async deadIn(key: string, nodes: (v: never) => string[]): Promise<Set<string>> {
    const cur = await this.o.bucket.get<never>(key);
    return this.o.liveness.deadOf(cur === undefined ? [] : nodes(cur));
  }

  private deadInChannel(channel: string): Promise<Set<string>> {
    return this.deadIn(this.channelKey(channel), (v: Member[]) => v.map((m) => m.n));
  }

  private deadOfUser(user: string): Promise<Set<string>> {
    return this.deadIn(this.userKey(user), (v: UserState) => v.c.map((x) => x.n));
  }

  async add(channel: string, member: PresenceMember): Promise<boolean> {
    await this.o.liveness.ensure();
    const dead = await this.deadInChannel(channel);
    return this.o.bucket.update<Member[], boolean>(this.channelKey(channel), (cur) => {
      const list = (cur ?? []).filter((m) => !dead.has(m.n));
      const entry = { c: member.client, u: member.user, ...(member.info !== undefined ? { i: member.info } : {}), n: this.me };
      // Added again (presence_update): its info replaced in place.
      const at = list.findIndex((m) => m.c === member.client);
      if (at !== -1) return { value: list.map((m, i) => (i === at ? entry : m)), result: false };
      const first = !list.some((m) => m.u === member.user);
      return { value: [...list, entry], result: first };
    });
  }

  async remove(channel: string, client: string): Promise<boolean> {
    const dead = await this.deadInChannel(channel);
    return this.o.bucket.update<Member[], boolean>(this.channelKey(channel), (cur) => {
      const gone = cur?.find((m) => m.c === client);
      if (!cur || !gone) return { value: cur, result: false };
      const rest = cur.filter((m) => m.c !== client && !dead.has(m.n));
      return { value: rest.length > 0 ? rest : undefined, result: !rest.some((m) => m.u === gone.u) };
    });
  }

  async get(channel: string): Promise<Record<string, PresenceUser>> {
    const all = (await this.o.bucket.get<Member[]>(this.channelKey(channel))) ?? [];
    const dead = await this.o.liveness.deadOf(all.map((m) => m.n));
    const members = all.filter((m) => !dead.has(m.n));
    return groupByUser(members.map((m) => ({ user: m.u, ...(m.i !== undefined ? { info: m.i } : {}) })));
  }

  async userUp(user: string, client: string): Promise<boolean> {
    await this.o.liveness.ensure();
    if (!this.registered.has(user)) {
      // Listed under this node first, so a sweep after this node's death finds the user.
      await this.o.bucket.update<string[], void>(this.o.key(`users.${token(this.me)}`), (cur) => ({ value: cur?.includes(user) ? cur : [...(cur ?? []), user], result: undefined }));
      this.registered.add(user);
    }
    return this.o.bucket.update<UserState, boolean>(this.userKey(user), (cur) => {
      const s = cur ?? { c: [], up: false };
      const c = s.c.some((x) => x.c === client) ? s.c : [...s.c, { c: client, n: this.me }];
      return { value: { c, up: true }, result: !s.up };
    });
  }

  async userDown(user: string, client: string): Promise<number> {
    const dead = await this.deadOfUser(user);
    return this.o.bucket.update<UserState, number>(this.userKey(user), (cur) => {
      if (!cur) return { value: cur, result: 0 };
      const c = cur.c.filter((x) => x.c !== client);
      const count = c.filter((x) => !dead.has(x.n)).length;
      return { value: c.length === cur.c.length ? cur : { ...cur, c }, result: count };
    });
  }

  async settleOffline(user: string): Promise<boolean> {
    const dead = await this.deadOfUser(user);
    return this.o.bucket.update<UserState, boolean>(this.userKey(user), (cur) => {
      if (!cur?.up) return { value: cur, result: false };
      const c = cur.c.filter((x) => !dead.has(x.n));
      if (c.length > 0) return { value: cur, result: false };
      return { value: undefined, result: true };
    });
  }

  async online(users: readonly string[]): Promise<string[]> {
    const states = await Promise.all(users.map((u) => this.o.bucket.get<UserState>(this.userKey(u))));
    return users.filter((_, i) => states[i]?.up === true);
  }

  /** Settles the users of nodes that died offline (each once, cluster-wide). */
  async sweep(): Promise<void> {
    await this.o.liveness.ensure();
    const nodes = await this.o.liveness.known();
    for (const dead of await this.o.liveness.deadOf(nodes)) {
      const users = (await this.o.bucket.get<string[]>(this.o.key(`users.${token(dead)}`))) ?? [];
      for (const user of users) {
        const settled = await this.o.bucket.update<UserState, boolean>(this.userKey(user), (cur) => {
          if (!cur) return { value: cur, result: false };
          const c = cur.c.filter((x) => x.n !== dead);
          if (c.length > 0 || !cur.up) return { value: c.length === cur.c.length ? cur : { ...cur, c }, result: false };
          return { value: undefined, result: true };
        });
        if (settled) this.o.onUserExpired?.(user);
      }
      await this.o.bucket.update<string[], void>(this.o.key(`users.${token(dead)}`), () => ({ value: undefined, result: undefined }));
      // The node stays listed: occupancy settles what it held from the same list.
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
