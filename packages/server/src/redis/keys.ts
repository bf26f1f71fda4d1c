/**
 * Redis key and pub/sub channel names, in one place so the broker and the stores agree.
 * Every per-channel name carries the Switchboard channel as a hash tag (`{chat:lobby}`), so a
 * channel's stream, meta, idempotency keys and shard channel live in one Redis Cluster slot
 * (a Lua script may touch them together). Channel names cannot contain `{` or `}`.
 */
export class RedisKeys {
  readonly prefix: string;
  constructor(prefix = 'sb:') {
    this.prefix = prefix;
  }
  /** Hash `{e: epoch, o: last offset}` of a channel's stream. */
  meta(channel: string): string {
    return `${this.prefix}{${channel}}:meta`;
  }
  /** Stream of retained publications; entry id `<offset>-0`, fields `p` (JSON) and `t` (ts). */
  stream(channel: string): string {
    return `${this.prefix}{${channel}}:stream`;
  }
  /** String `<epoch>:<offset>` for an idempotency key, expiring after the dedup window. */
  idempotency(channel: string, key: string): string {
    return `${this.prefix}{${channel}}:id:${key}`;
  }
  /** Idempotency key of a channel without history, expiring after the dedup window. */
  claim(channel: string, key: string): string {
    return `${this.prefix}{${channel}}:claim:${key}`;
  }
  /** Pub/sub channel (sharded on Redis >= 7) carrying a channel's publications as JSON. */
  pubsub(channel: string): string {
    return `${this.prefix}{${channel}}:pub`;
  }
  /** The Switchboard channel of a pub/sub channel name, or undefined when it is not one. */
  channelOf(pubsub: string): string | undefined {
    const head = `${this.prefix}{`;
    if (!pubsub.startsWith(head) || !pubsub.endsWith('}:pub')) return undefined;
    return pubsub.slice(head.length, -'}:pub'.length);
  }
  /** Plain pub/sub channel every node subscribes to for control messages. */
  control(): string {
    return `${this.prefix}control`;
  }
  /**
   * Pub/sub channel of the control messages addressed to one node (sharded on Redis >= 7,
   * like publications: one shard carries a node's requests, not every shard).
   */
  nodeControl(node: string): string {
    return `${this.prefix}{node:${node}}:control`;
  }
  /** Sorted set client → expiry of a channel's present connections (refreshed by their nodes). */
  presence(channel: string): string {
    return `${this.prefix}{${channel}}:presence`;
  }
  /** Hash client → `{user, info}` JSON of a channel's present connections. */
  presenceMembers(channel: string): string {
    return `${this.prefix}{${channel}}:presence:m`;
  }
  /** Sorted set client → expiry of a user's connections (online/offline). */
  userConnections(user: string): string {
    return `${this.prefix}{user:${user}}:conns`;
  }
  /** Set while a user is announced online. */
  userAnnounced(user: string): string {
    return `${this.prefix}{user:${user}}:online`;
  }
  /** Sorted set user → latest connection expiry: where nodes find users whose node died. */
  presenceUsers(): string {
    return `${this.prefix}presence:users`;
  }
  /** Sorted set channel → sequence of a user's persistent server-side subscriptions (its counter: `<key>:seq`). */
  serverSubscriptions(user: string): string {
    return `${this.prefix}{user:${user}}:subs`;
  }
  /** Sorted set `<login>|<client>` → expiry of a user's live logins in a scope. */
  loginClients(scope: string, user: string): string {
    return `${this.prefix}{login:${scope}:${user}}:clients`;
  }
  /** Sorted set login → admission sequence (oldest first) of a user's live logins in a scope. */
  loginOrder(scope: string, user: string): string {
    return `${this.prefix}{login:${scope}:${user}}:order`;
  }
  /** Counter giving logins their admission sequence. */
  loginSeq(scope: string, user: string): string {
    return `${this.prefix}{login:${scope}:${user}}:seq`;
  }
  /** Hash node id → JSON of its `NodeInfo` and expiry (the node directory). */
  nodes(): string {
    return `${this.prefix}nodes`;
  }
  /** Hash channel → local subscriber count of one node's channels, expiring unless refreshed. */
  nodeChannels(node: string): string {
    return `${this.prefix}node:${node}:channels`;
  }
  /** Hash of a user's block and token revocation (`b`, `r`, `v`): one slot per user. */
  access(user: string): string {
    return `${this.prefix}{access:${user}}`;
  }
  /** Hash of a session (by a digest of its id, so a key listing reveals no usable id). */
  session(digest: string): string {
    return `${this.prefix}session:${digest}`;
  }
  /**
   * The webhook keys (docs/webhooks.md) share the hash tag `{webhooks}`: one Redis Cluster
   * slot, so one Lua script both decides a cluster-wide event (a channel's first subscriber
   * on any node) and enqueues it in the outbox. `part` is `seq`, `queue`, `events`, `state`
   * (the outbox), `announced`, `live`, `c:<channel>`, `u:<user>` or `node:<id>` (occupancy).
   */
  webhooks(part: string): string {
    return `${this.prefix}{webhooks}:${part}`;
  }
  /**
   * The admin UI's keys (docs/admin.md) share the hash tag `{admin}`: one Redis Cluster slot,
   * so one pipeline reads every node's stats. `part` is `session:<digest>`, `nodes`,
   * `node:<id>` or `samples:<id>`.
   */
  admin(part: string): string {
    return `${this.prefix}{admin}:${part}`;
  }
}
