/** One connection present in a channel. */
export interface PresenceMember {
  client: string;
  user: string;
  /** The user's public info (JWT `info` claim), as given when the connection joined. */
  info?: unknown;
}

/** A user present in a channel: its info and how many of its connections are subscribed. */
export interface PresenceUser {
  user: string;
  info?: unknown;
  connections: number;
}

/**
 * Who is where, for every node: per channel (connections grouped by user) and per user
 * (is the user announced online, how many connections does it have).
 *
 * Contract (`runPresenceStoreContract`):
 * - `add`/`remove` are idempotent per (channel, client) and answer whether the user's first
 *   connection in the channel came (`add`) or its last one went (`remove`), atomically per
 *   channel (Redis, memory; PostgreSQL per statement: two connections of one user joining at
 *   the same instant on two nodes may both be told first); `get` of an empty or unknown
 *   channel is `{}`, keyed by user id, and never lists a user with zero connections.
 * - `userUp` is atomic per user: it records the connection and answers true exactly when
 *   the user was not announced online (the caller then announces it, once, cluster-wide).
 * - `userDown` answers how many connections the user has left (0: start the offline grace).
 * - `settleOffline` is atomic per user: it answers true exactly when the user has no
 *   connection and was announced (the caller then announces offline, once). A user that
 *   came back within the grace is still announced, so it neither goes offline nor online.
 *
 * A cluster implementation (Redis) keeps each entry under the node that owns the
 * connection and lets a node's entries expire when it stops refreshing them; users whose
 * last connections expired that way are settled like any other.
 */
/**
 * Groups present connections by user. The result has no prototype: user ids are
 * attacker-chosen (`__proto__`, `constructor`, `toString` are valid ids), so they must never
 * index a plain object. JSON-encodes like any object.
 */
export function groupByUser(members: Iterable<{ user: string; info?: unknown }>): Record<string, PresenceUser> {
  const byUser = new Map<string, PresenceUser>();
  for (const m of members) {
    const entry = byUser.get(m.user);
    if (entry) entry.connections++;
    else byUser.set(m.user, { user: m.user, ...(m.info !== undefined ? { info: m.info } : {}), connections: 1 });
  }
  const out = Object.create(null) as Record<string, PresenceUser>;
  for (const [user, entry] of byUser) out[user] = entry;
  return out;
}

export interface PresenceStore {
  /**
   * Adds a connection to a channel's presence. True when its user had no other (live)
   * connection there: the user's first (a protocol announces users, not connections, from it).
   */
  add(channel: string, member: PresenceMember): Promise<boolean>;
  /** Removes a connection. True when it was there and its user has no (live) connection left in the channel. */
  remove(channel: string, client: string): Promise<boolean>;
  get(channel: string): Promise<Record<string, PresenceUser>>;
  userUp(user: string, client: string): Promise<boolean>;
  userDown(user: string, client: string): Promise<number>;
  settleOffline(user: string): Promise<boolean>;
  /** Those of `users` announced online now (`userUp` answered true, no `settleOffline` since), in no order. */
  online(users: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}
