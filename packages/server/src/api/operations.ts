import type {
  AccessResponse, BroadcastResponse, ChannelsResponse, HistoryRequest, HistoryResponse, InfoResponse, PresenceResponse, PublishResponse,
} from './schemas.ts';

/**
 * What the server API does to the gateway: the one place its calls into the node live, so a
 * cluster-wide implementation (presence store, cluster stats, cross-node fan-out) can replace
 * the single-node one without touching the routes.
 *
 * Every method validates channel names itself and throws `ApiError` (400 naming the field,
 * 404 unknown namespace / feature not enabled). A store or broker failure rejects with a
 * temporary `ReplyError('internal')` (the routes answer 503: nothing was acknowledged).
 */
export interface Operations {
  /** Stores (where the namespace keeps history) and delivers; resolves once stored. */
  publish(channel: string, data: unknown, idempotencyKey?: string, tags?: Record<string, string>): Promise<PublishResponse>;
  /** Publishes to each channel; every name is checked before anything is published. */
  broadcast(channels: readonly string[], data: unknown, idempotencyKey?: string, tags?: Record<string, string>): Promise<BroadcastResponse>;
  /** Publishes to the user's personal channel `#<user>` (kept in history: offline users get it later). */
  send(user: string, data: unknown, idempotencyKey?: string): Promise<PublishResponse>;
  /**
   * One `message` frame (`channel: "*"`, no offset) to every authenticated connection on every
   * node, at most once, not stored. Resolves with how many connections it went to (cluster
   * mode: as the nodes last announced their counts).
   */
  sendToAll(data: unknown): Promise<{ connections: number }>;
  /** Closes the user's connections (only those of `session` when given) on every node. */
  disconnect(user: string, options: { session?: string; code: number; reason: string }): Promise<void>;
  /**
   * Subscribes every live connection of the user to a channel on every node (each gets a
   * `subscribed` frame); with `persist`, stores it first so the user's future connections are
   * subscribed when they authenticate.
   */
  subscribe(user: string, channel: string, persist: boolean): Promise<void>;
  /**
   * Removes the user's connections from a channel on every node (each gets an `unsubscribed`
   * frame) and forgets the persistent server-side subscription, if any.
   */
  unsubscribe(user: string, channel: string): Promise<void>;
  /**
   * Blocks a user (stored, so it outlives restarts) and closes its connections on every node
   * with `3502 blocked`; authentication answers `auth_failed blocked` until `unblock` or the ttl.
   */
  block(user: string, options: { ttlSec?: number; reason?: string }): Promise<void>;
  /** Lifts a block. */
  unblock(user: string): Promise<void>;
  /**
   * Refuses the user's tokens issued before `beforeSec` (Unix s; default now) from now on, and
   * closes live connections authenticated with one (`3502 token_revoked`). A `before` in the
   * future is a 400: that would be a block.
   */
  revoke(user: string, beforeSec?: number): Promise<void>;
  /** What is in force for a user. */
  access(user: string): Promise<AccessResponse>;
  presence(channel: string): Promise<PresenceResponse>;
  history(req: HistoryRequest): Promise<HistoryResponse>;
  /** Channels with at least one subscriber on any node, and how many (cluster mode: ≤ 1 s old). */
  channels(pattern?: string): Promise<ChannelsResponse>;
  info(): Promise<InfoResponse>;
}
