/** Protocol version spoken by this package. */
export const PROTOCOL_VERSION = 1;

/** A command id: unique per connection; the reply carries it back. */
export type FrameId = string | number;

/** A position in a channel's stream. `offset` 0 means "before the first publication". */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

// ---- client → server -------------------------------------------------------------------

export interface AuthFrame { type: 'auth'; id?: FrameId; token?: string; name?: string; session?: string }
/** Delta encodings a subscriber may ask for: `fossil` (the Fossil SCM delta format). */
export type DeltaFormat = 'fossil';
/** Every DeltaFormat, for validation. */
export const DELTA_FORMATS: readonly DeltaFormat[] = ['fossil'];

/**
 * Subscribe to a channel. `since` recovers from a position; `rewind: N` (history channels,
 * without `since`) has the ack carry the channel's last N publications, oldest first.
 * `delta: 'fossil'`: on namespaces with `delta: 'fossil'`, live messages may carry a delta
 * against the previous message of the channel instead of the full data (the ack's `delta`
 * says whether it was granted; see `MessageFrame.delta`).
 */
export interface SubscribeFrame {
  type: 'subscribe'; id?: FrameId; channel: string; since?: StreamPosition; rewind?: number; delta?: DeltaFormat;
  /**
   * Only publications whose tags match this filter (see `compileFilter`: e.g.
   * `symbol in ["AAPL","MSFT"] && priority >= 2`) are delivered: live, recovered and rewound.
   */
  filter?: string;
}
export interface UnsubscribeFrame { type: 'unsubscribe'; id?: FrameId; channel: string }
/** `tags`: string values by name, kept with the publication (history) and matched by subscribers' filters. */
export interface PublishFrame { type: 'publish'; id?: FrameId; channel: string; data: unknown; tags?: Record<string, string> }
export interface SendFrame { type: 'send'; id?: FrameId; to: string; data: unknown }
export interface PresenceFrame { type: 'presence'; id?: FrameId; channel: string }
/**
 * Sets this connection's presence info in a channel it is subscribed to (namespaces with
 * `presence` and `presenceUpdates`): stored for `presence` answers, and announced to the
 * channel's subscribers as `update` (with `joinLeave`). `info`: any JSON, bounded.
 */
export interface PresenceUpdateFrame { type: 'presence_update'; id?: FrameId; channel: string; info: unknown }
/**
 * Page through a channel's history. Oldest first from `since` (exclusive) by default;
 * `reverse: true` pages newest first, from `since` (exclusive) backwards, or from the top.
 */
export interface HistoryFrame {
  type: 'history'; id?: FrameId; channel: string; since?: StreamPosition; limit?: number; reverse?: boolean;
  /**
   * Only publications whose tags match (as `SubscribeFrame.filter`). `limit` counts what is
   * read before filtering; the ack's `next` is where the next page starts (the last
   * publication read, matching or not).
   */
  filter?: string;
}
/** A new token; without one, the server's refresh hook re-validates the connection (cookie sessions). */
export interface RefreshFrame { type: 'refresh'; id?: FrameId; token?: string }
/**
 * A remote procedure call answered by the application backend (`hooks.rpc`): the reply is an
 * `ack` with `result`, or an `error` (`rpc_error` with the backend's `details`). `id` is required.
 */
export interface RpcFrame { type: 'rpc'; id?: FrameId; method: string; data?: unknown }
export interface PingFrame { type: 'ping'; id?: FrameId }
export interface PongFrame { type: 'pong'; id?: FrameId }

export type ClientFrame =
  | AuthFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | SendFrame
  | PresenceFrame | PresenceUpdateFrame | HistoryFrame | RefreshFrame | PingFrame | PongFrame | RpcFrame;

export type ClientFrameType = ClientFrame['type'];

// ---- server → client -------------------------------------------------------------------

export interface Permissions { subscribe: string[]; publish: string[] }

export interface AuthSuccessFrame {
  type: 'auth_success';
  client: string;
  session: string;
  user: string;
  /** Unix seconds when the credential expires; absent when it does not. */
  expiresAt?: number;
  /** Server ping interval in seconds (0: the server does not ping). */
  ping: number;
  permissions: Permissions;
  resumed: boolean;
  info?: unknown;
}
export interface AuthFailedFrame { type: 'auth_failed'; code: number; reason: string }

/** A publication as delivered and as replayed from history. */
export interface Publication {
  channel: string;
  data: unknown;
  /** Position in the stream; absent on channels without history. */
  offset?: number;
  epoch?: string;
  /** Publishing user, when a user published it. */
  from?: string;
  /** The publisher's idempotency key, when it gave one. */
  id?: FrameId;
  /** Server time in ms when it was accepted. */
  ts: number;
  /** Tags the publisher gave (string values by name), matched by subscribers' filters. */
  tags?: Record<string, string>;
  /**
   * A connection id (`c_…`) this publication is not delivered to live (a Pusher trigger's
   * `socket_id`, a client event's sender). Never sent to clients.
   */
  except?: string;
}
/**
 * A publication on the wire. `delta: true` (delta subscriptions only): `data` is a string
 * whose characters (U+0000–U+00FF, one per byte) are a Fossil delta that turns the UTF-8
 * JSON text of the previous message's `data` on this channel into this one's.
 */
export interface MessageFrame extends Publication { type: 'message'; delta?: boolean }

export interface AckFrame {
  type: 'ack';
  id: FrameId;
  epoch?: string;
  offset?: number;
  recovered?: boolean;
  publications?: Publication[];
  duplicate?: boolean;
  [extra: string]: unknown;
}
/** `details`: only with `rpc_error`, the backend's `{code?, data?}`. */
export interface ErrorFrame { type: 'error'; id?: FrameId; code: string; message: string; temporary: boolean; details?: { code?: string; data?: unknown } }
export interface JoinFrame { type: 'join'; channel: string; user: string; client: string; info?: unknown }
export interface LeaveFrame { type: 'leave'; channel: string; user: string; client: string }
/** A subscriber of the channel changed its presence info (`presence_update`). */
export interface UpdateFrame { type: 'update'; channel: string; user: string; client: string; info: unknown }
export interface OnlineFrame { type: 'online'; user: string }
export interface OfflineFrame { type: 'offline'; user: string }
export interface ServerPingFrame { type: 'ping' }
export interface ServerPongFrame { type: 'pong'; id?: FrameId }
export interface TokenExpiringFrame { type: 'token_expiring'; expiresAt: number }
/**
 * The backend subscribed this connection to a channel (`POST /api/subscribe`): its messages
 * follow. `epoch`/`offset` (history channels): where live delivery begins. `persist`: the
 * subscription is stored and comes back on the user's future connections.
 */
export interface SubscribedFrame { type: 'subscribed'; channel: string; epoch?: string; offset?: number; persist: boolean }
/** The backend removed this connection's subscription to a channel (`POST /api/unsubscribe`). */
export interface UnsubscribedFrame { type: 'unsubscribed'; channel: string }
export interface DisconnectFrame { type: 'disconnect'; code: number; reason: string; reconnectAfterMs?: number }

export type ServerFrame =
  | AuthSuccessFrame | AuthFailedFrame | AckFrame | ErrorFrame | MessageFrame
  | JoinFrame | LeaveFrame | UpdateFrame | OnlineFrame | OfflineFrame | ServerPingFrame | ServerPongFrame
  | TokenExpiringFrame | DisconnectFrame | SubscribedFrame | UnsubscribedFrame;

export type ServerFrameType = ServerFrame['type'];

/** Query flag and subprotocol with which a client asks for JSON-array batch frames. */
export const BATCH_QUERY_FLAG = 'batch';
export const BATCH_SUBPROTOCOL = 'switchboard.v1.batch';
export const SUBPROTOCOL = 'switchboard.v1';

/**
 * The epoch of a stream that was never written (or no longer exists): its offset is 0 and
 * reading it stores nothing. The stream's first publication begins a real epoch at offset 1;
 * recovering from `{epoch: UNWRITTEN_EPOCH, offset: 0}` replays it from there, and a client
 * at that position whose next message is offset 1 of a new epoch has missed nothing.
 */
export const UNWRITTEN_EPOCH = '0';
