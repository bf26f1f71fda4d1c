import { CloseCode, type Disconnect } from '@switchboard/protocol';

/**
 * Pusher protocol 7 close codes (also the `code` of the `pusher:error` sent before the
 * close). 4000-4099: the client does not reconnect; 4100-4199: it reconnects after a
 * backoff; 4200-4299: it reconnects at once; 4300-4399: other errors (no reconnect).
 */
export const PusherClose = {
  /** The app key in the path is not one of `pusher.apps`. */
  unknown_app: 4001,
  /** The path is not `/app/<key>`. */
  path_not_found: 4005,
  /** `?protocol=` is not a number. */
  invalid_version: 4006,
  /** `?protocol=` is a version this server does not speak (it speaks 5 to 7). */
  unsupported_version: 4007,
  /** No `?protocol=`. */
  no_version: 4008,
  /** Not allowed: blocked, terminated by the app (`terminate_connections`), replaced. */
  unauthorized: 4009,
  /** Over capacity, slow, or over the rate limits: reconnect after a backoff. */
  backoff: 4100,
  /** Reconnect now (server shutting down, cluster hiccup). */
  reconnect: 4200,
  /** The server's ping went unanswered. */
  no_pong: 4201,
  /** A frame the server cannot take (not JSON, too large, binary). */
  bad_request: 4300,
} as const;

/** `pusher:error` codes that do not close the connection. */
export const PusherError = {
  /** A client event over the app's `clientEventsPerSecond`. */
  client_event_rate: 4301,
} as const;

/** The Pusher close code for the gateway's disconnect `d` (codes 4000-4999 are Pusher's already). */
export function pusherCloseCode(d: Disconnect): number {
  if (d.code >= 4000 && d.code <= 4999) return d.code;
  switch (d.code) {
    case CloseCode.reconnect:
    case CloseCode.shutdown:
      return PusherClose.reconnect;
    case CloseCode.no_pong:
      return PusherClose.no_pong;
    case CloseCode.slow_consumer:
    case CloseCode.too_many_requests:
      return PusherClose.backoff;
    case CloseCode.bad_request:
      return PusherClose.bad_request;
    case CloseCode.blocked:
    case CloseCode.forced:
    case CloseCode.session_replaced:
    case CloseCode.permission_denied:
    case CloseCode.invalid_token:
    case CloseCode.token_expired:
      return PusherClose.unauthorized;
    default:
      return d.code < 3500 ? PusherClose.reconnect : PusherClose.bad_request;
  }
}
