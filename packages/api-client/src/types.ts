/** Request and answer shapes of the Switchboard server API (docs/server-api.md). */

/** Position in a channel's stream. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A stored or delivered publication. */
export interface Publication {
  channel: string;
  data: unknown;
  offset?: number;
  epoch?: string;
  from?: string;
  id?: string | number;
  ts: number;
}

/** What `publish` and `send` answer; `epoch`/`offset` are absent on channels without history. */
export interface PublishResult {
  epoch?: string;
  offset?: number;
  /** True when the `idempotencyKey` was already used within the dedup window (nothing was delivered again). */
  duplicate: boolean;
}

export interface BroadcastResult {
  results: Array<{ channel: string; epoch?: string; offset?: number; duplicate?: boolean; error?: { code: string; message: string; temporary?: boolean } }>;
}

export interface DisconnectOptions {
  /** Only this gateway session's connections (`s_…`). */
  session?: string;
  /** Close code 3000-4999; default 3503 (forced, terminal). */
  code?: number;
  reason?: string;
}

export interface BlockOptions {
  /** Seconds until the block ends by itself; absent: until `unblock`. */
  ttl?: number;
  /** Why (kept for operators, never sent to the client). */
  reason?: string;
}

export interface AccessResult {
  user: string;
  blocked: boolean;
  /** Unix seconds when the block ends; absent while blocked: until unblock. */
  until?: number;
  reason?: string;
  /** Unix seconds: the user's tokens issued before this are refused. */
  revokedBefore?: number;
}

export interface HistoryOptions {
  since?: StreamPosition;
  limit?: number;
  reverse?: boolean;
}

export interface HistoryResult extends StreamPosition {
  publications: Publication[];
}

export interface PresenceResult {
  presence: Record<string, { user: string; info?: unknown; connections: number }>;
}

export interface ChannelsResult {
  channels: Array<{ channel: string; subscribers: number }>;
}

interface Counts {
  clients: number;
  users: number;
  channels: number;
  subscriptions: number;
}

export interface InfoResult {
  nodes: Array<Counts & { id: string; name: string; pid: number; uptimeMs: number }>;
  totals: Counts;
}

/** The seed's push shape. */
export type PushBody =
  | { type: 'single'; pointer: string; content: unknown; idempotencyKey?: string }
  | { type: 'room'; pointer: string; content: unknown; idempotencyKey?: string }
  | { type: 'all'; pointer?: unknown; content: unknown };

/** `type: "all"` answers how many connections the frame was queued for. */
export type PushResult = PublishResult | { connections: number };
