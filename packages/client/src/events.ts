import type { Permissions, Publication, StreamPosition } from '@switchboard/protocol';
import type { TransportName } from './transport-types.ts';
import type { Subscription } from './subscription.ts';

/**
 * Client states. `disconnected`: not connected, a reconnect is scheduled (or waits for the
 * network); `connecting`: opening the socket and authenticating; `connected`: authenticated;
 * `closed`: stopped for good (`close()`, a terminal close code, logout, kicked) until `connect()`.
 */
export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'closed';

/** Events of the Switchboard client. */
export interface ClientEvents {
  /** Every state change. */
  state: { state: ClientState; previous: ClientState };
  /** A connection attempt begins; `attempt` is 0 for the first, n for the n-th retry in a row. */
  connecting: { attempt: number };
  /** Authenticated; calls queued while offline have been sent, subscriptions re-requested. */
  connected: { client: string; user: string; transport: TransportName; resumed: boolean; expiresAt?: number; permissions: Permissions };
  /**
   * The connection was lost and will be retried in `reconnectInMs` (null: waiting for the
   * browser's `online` event). `code` is the close code (1006 when the SDK dropped a dead
   * connection; `reason` then says why: `heartbeat_timeout`, `connect_timeout`, `network_offline`).
   */
  disconnected: { code: number; reason: string; reconnectInMs: number | null };
  /** Stopped for good: no more reconnects. `reason`: `client_closed`, `logout`, `unauthorized`, `max_attempts`, or the server's. */
  closed: { code: number; reason: string };
  /** Closed `3504 session_replaced`: this login was replaced elsewhere (single sign-on). `closed` follows. */
  kicked: { code: number; reason: string };
  /** A publication on a channel without a Subscription object. */
  message: Publication;
  /**
   * The backend subscribed this connection (`POST /api/subscribe`): `subscription` receives the
   * channel's messages (a new Subscription with `server: true` unless the app had one).
   * `persist`: it comes back on reconnects; otherwise it ends with the connection.
   */
  subscribed: { channel: string; subscription: Subscription; persist: boolean };
  /**
   * A subscription ended by the server's doing: `reason` `server` (`POST /api/unsubscribe`) or
   * `connection_lost` (a non-persistent server-side subscription does not outlive its connection).
   */
  unsubscribed: { channel: string; subscription: Subscription; reason: string };
  /** A user came online (their first connection, on any tab or device). */
  online: { user: string };
  /** A user went offline (their last connection closed). */
  offline: { user: string };
  /** The token was refreshed on the live connection. */
  token: { expiresAt?: number };
  /** Something went wrong that no call's promise reports (a provider failure, an unanswered `error` frame). */
  error: { error: Error };
}

/** What `publish` and `send` resolve with. */
export interface PublishResult {
  /** The idempotency key the call used (give it back as `id` to retry safely). */
  id: string;
  /** Position in the channel's stream (channels with history). */
  offset?: number;
  epoch?: string;
  /** True when the server had already stored this id: not stored twice. */
  duplicate: boolean;
}

/** One user in `presence(channel)`. */
export interface PresenceEntry {
  user: string;
  info?: unknown;
  /** How many of the user's connections are subscribed. */
  connections: number;
}

/** What `history(channel)` resolves with. */
export interface HistoryResult {
  epoch: string;
  offset: number;
  publications: Publication[];
  /**
   * More publications are retained in this direction: the reply was cut by `limit` or by the
   * server's byte bound (`limits.maxReplayBytes`). Continue with `since` = the last one
   * (with a filter: `next`).
   */
  more: boolean;
  /** With a filter: the position of the last publication read, matching or not (where to continue). */
  next?: StreamPosition;
}
