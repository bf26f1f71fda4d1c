import type { BackoffOptions } from './backoff.ts';
import type { StorageLike } from './storage.ts';
import type { EventSourceConstructor, FetchLike, TransportName, WebSocketLike } from './transport-types.ts';

export type { WebSocketLike } from './transport-types.ts';

/** A `WebSocket` constructor. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Returns a token (a JWT); may throw `UnauthorizedError` when the user is logged out. */
export type TokenProvider = () => string | Promise<string>;

/** What to do when a call is made while the offline queue is full. */
export type OverflowPolicy = 'reject-new' | 'reject-oldest';

/** Where browser events come from (`window` by default); tests may pass their own. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (ev: any) => void): void;
  removeEventListener(type: string, listener: (ev: any) => void): void;
}

/** Options of `new Switchboard(url, options)`. Every one is optional. */
export interface SwitchboardOptions {
  /** A JWT, or a function that returns one (called on connect and to refresh). */
  token?: string | TokenProvider;
  /** Anonymous name, where the gateway allows anonymous users. */
  name?: string;
  /** localStorage key holding the token: other tabs' changes re-authenticate, removal logs out. */
  tokenStorageKey?: string;
  /** Storage key of the resumable session id (default `"switchboard:session"`); `null`: do not keep it. */
  sessionStorageKey?: string | null;
  /** Storage for the session id and token: `localStorage` in browsers, memory elsewhere. */
  storage?: StorageLike | null;
  /** `WebSocket` implementation (default: the global one). */
  WebSocket?: WebSocketConstructor;
  /**
   * Transports to try, in order, when the one before cannot open (docs/transports.md).
   * Default `['websocket', 'http-stream', 'sse', 'long-polling']`, minus those this platform
   * lacks (no `EventSource` in Node: no `sse`).
   */
  transports?: TransportName[];
  /** `fetch` for the HTTP transports (default: the global one). */
  fetch?: FetchLike;
  /** `EventSource` for the `sse` transport (default: the global one). */
  EventSource?: EventSourceConstructor;
  /**
   * A transport that has not opened within this moves on to the next one (an upgrade that
   * hangs, a proxy that buffers the stream). Default 4 s.
   */
  fallbackTimeoutMs?: number;
  /** Connected over a fallback, a reconnect tries the transports before it again after this long (default 60 s). */
  upgradeRetryMs?: number;
  /** Connect at once (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
  /** Reconnect backoff (full jitter). Defaults: 500 ms, 20 s, ×2. */
  reconnect?: Partial<BackoffOptions> & {
    /** Give up (state `closed`, reason `max_attempts`) after this many failed attempts in a row. Default: never. */
    maxAttempts?: number;
  };
  /** Time allowed to open the socket and authenticate (default 10 s). */
  connectTimeoutMs?: number;
  /** Silence tolerated beyond the server's ping interval before the connection is dropped as dead (default 10 s). */
  heartbeatGraceMs?: number;
  /**
   * When the server does not ping (`auth_success.ping` is 0), the client sends
   * `{"type":"ping"}` this often and treats silence beyond it plus `heartbeatGraceMs` as a
   * dead connection (default 25 s; 0: no client pings, no dead-connection check).
   */
  clientPingMs?: number;
  /**
   * When a hidden page becomes visible again (a laptop waking up), probe the connection with
   * a ping and drop it if nothing arrives within this time (default 5 s; 0: no probe).
   */
  wakeProbeMs?: number;
  /** Refresh the token this long before it expires (default 30 s, at most half its remaining life). */
  refreshMarginMs?: number;
  /** Calls made while not connected. Default: up to 1000, `reject-new` when full. */
  offlineQueue?: { max?: number; overflow?: OverflowPolicy };
  /** Browser event source for `online`/`offline` and `storage` events (default `window`). */
  window?: EventSourceLike | null;
  /** Whether the network is up (default `navigator.onLine`). */
  isOnline?: () => boolean;
}

/** Options with every default filled in: the one place defaults live. */
export interface ResolvedOptions {
  token: string | TokenProvider | undefined;
  name: string | undefined;
  tokenStorageKey: string | undefined;
  sessionStorageKey: string | null;
  storage: StorageLike | null;
  WebSocket: WebSocketConstructor | undefined;
  /** The transports to try, in order: only those this platform has. */
  transports: TransportName[];
  fetch: FetchLike | undefined;
  EventSource: EventSourceConstructor | undefined;
  fallbackTimeoutMs: number;
  upgradeRetryMs: number;
  autoConnect: boolean;
  backoff: BackoffOptions;
  maxAttempts: number;
  connectTimeoutMs: number;
  heartbeatGraceMs: number;
  clientPingMs: number;
  wakeProbeMs: number;
  refreshMarginMs: number;
  queueMax: number;
  overflow: OverflowPolicy;
  window: EventSourceLike | null;
  isOnline: () => boolean;
}

const TRANSPORTS: readonly TransportName[] = ['websocket', 'http-stream', 'sse', 'long-polling'];

function positive(name: string, v: number | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min) throw new TypeError(`Switchboard: option ${name} must be a number >= ${min}`);
  return v;
}

function browserWindow(): EventSourceLike | null {
  const g = globalThis as { window?: EventSourceLike };
  return g.window && typeof g.window.addEventListener === 'function' ? g.window : null;
}

function browserStorage(): StorageLike | null {
  if (!browserWindow()) return null; // Node's experimental localStorage is not the browser's
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage ?? null;
  } catch {
    return null; // access denied (sandboxed iframe, disabled storage)
  }
}

/** Validates options and fills the defaults. Throws TypeError naming a bad option. */
export function resolveOptions(o: SwitchboardOptions): ResolvedOptions {
  if (o.token !== undefined && typeof o.token !== 'string' && typeof o.token !== 'function') {
    throw new TypeError('Switchboard: option token must be a string or a function returning one');
  }
  const overflow = o.offlineQueue?.overflow ?? 'reject-new';
  if (overflow !== 'reject-new' && overflow !== 'reject-oldest') throw new TypeError('Switchboard: offlineQueue.overflow must be "reject-new" or "reject-oldest"');
  const r = o.reconnect ?? {};
  const g = globalThis as { WebSocket?: WebSocketConstructor; fetch?: FetchLike; EventSource?: EventSourceConstructor; ReadableStream?: unknown };
  const WebSocket = o.WebSocket ?? g.WebSocket;
  const fetchFn = o.fetch ?? (g.fetch ? g.fetch.bind(globalThis) : undefined);
  const EventSource = o.EventSource ?? g.EventSource;
  const wanted = o.transports ?? ['websocket', 'http-stream', 'sse', 'long-polling'];
  if (!Array.isArray(wanted) || wanted.length === 0 || wanted.some((t) => !TRANSPORTS.includes(t))) {
    throw new TypeError(`Switchboard: option transports must be a non-empty list of ${TRANSPORTS.map((t) => `"${t}"`).join(', ')}`);
  }
  const has: Record<TransportName, boolean> = {
    websocket: WebSocket !== undefined,
    'http-stream': fetchFn !== undefined && g.ReadableStream !== undefined,
    sse: fetchFn !== undefined && EventSource !== undefined,
    'long-polling': fetchFn !== undefined,
  };
  return {
    token: o.token,
    name: o.name,
    tokenStorageKey: o.tokenStorageKey,
    sessionStorageKey: o.sessionStorageKey === undefined ? 'switchboard:session' : o.sessionStorageKey,
    storage: o.storage === undefined ? browserStorage() : o.storage,
    WebSocket,
    transports: [...new Set(wanted)].filter((t) => has[t]),
    fetch: fetchFn,
    EventSource,
    fallbackTimeoutMs: positive('fallbackTimeoutMs', o.fallbackTimeoutMs, 4000, 1),
    upgradeRetryMs: positive('upgradeRetryMs', o.upgradeRetryMs, 60_000),
    autoConnect: o.autoConnect ?? true,
    backoff: {
      minDelayMs: positive('reconnect.minDelayMs', r.minDelayMs, 500),
      maxDelayMs: positive('reconnect.maxDelayMs', r.maxDelayMs, 20_000),
      factor: positive('reconnect.factor', r.factor, 2, 1),
    },
    maxAttempts: positive('reconnect.maxAttempts', r.maxAttempts, Infinity, 1),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, 10_000, 1),
    heartbeatGraceMs: positive('heartbeatGraceMs', o.heartbeatGraceMs, 10_000),
    clientPingMs: positive('clientPingMs', o.clientPingMs, 25_000),
    wakeProbeMs: positive('wakeProbeMs', o.wakeProbeMs, 5_000),
    refreshMarginMs: positive('refreshMarginMs', o.refreshMarginMs, 30_000),
    queueMax: positive('offlineQueue.max', o.offlineQueue?.max, 1000),
    overflow,
    window: o.window === undefined ? browserWindow() : o.window,
    isOnline: o.isOnline ?? (() => (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine !== false),
  };
}
