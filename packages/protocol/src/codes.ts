/**
 * Close codes carried by the WebSocket close frame (protocol v1, "Close codes").
 *
 * 3000–3499: server-side, temporary (reconnect with backoff).
 * 3500–3999: terminal (stop and tell the application).
 * 4000–4499: application-defined, temporary. 4500–4999: application-defined, terminal.
 */
export const CloseCode = {
  reconnect: 3000,
  shutdown: 3001,
  token_expired: 3005,
  slow_consumer: 3008,
  no_pong: 3012,
  too_many_requests: 3013,
  invalid_token: 3500,
  bad_request: 3501,
  /** The operator blocked this user (`POST /api/block`) or revoked the token it connected with (`POST /api/revoke`). */
  blocked: 3502,
  forced: 3503,
  session_replaced: 3504,
  permission_denied: 3507,
} as const;

export type CloseReason = keyof typeof CloseCode;

const reasonByCode = new Map<number, CloseReason>(
  Object.entries(CloseCode).map(([reason, code]) => [code, reason as CloseReason]),
);

/** The fixed reason string of a close code, or undefined for codes the table does not fix. */
export function closeReason(code: number): CloseReason | undefined {
  return reasonByCode.get(code);
}

/**
 * True when a client must not reconnect after this close code: 3500–3999 and 4500–4999.
 * Codes outside the protocol's ranges (1000–2999: WebSocket's own) are treated as temporary.
 */
export function isTerminalCloseCode(code: number): boolean {
  return (code >= 3500 && code <= 3999) || (code >= 4500 && code <= 4999);
}

/** Error codes carried by `error` replies. Stable strings: applications switch on them. */
export const ErrorCodes = [
  'unauthorized',
  'permission_denied',
  'unknown_channel',
  'bad_request',
  'limit_exceeded',
  'too_many_requests',
  'not_available',
  'internal',
  'token_expired',
  'unrecoverable_position',
  /** `rpc`: the application backend answered `{"error": …}` (see `details`). */
  'rpc_error',
  /** `rpc`: the application backend failed (unreachable, timed out, non-2xx, bad or too large answer). */
  'backend_unavailable',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

/** Codes whose failure may succeed if retried later (`temporary: true` on the wire). */
export const TemporaryErrorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['too_many_requests', 'internal', 'backend_unavailable']);

/** Reasons an `auth_failed` frame may carry, with the close code that follows it. */
export const AuthFailure = {
  invalid_token: 3500,
  token_expired: 3500,
  unauthorized: 3500,
  bad_request: 3501,
  session_rejected: 3500,
  session_limit: 3504,
  permission_denied: 3507,
  /** The user is blocked (server API `block`) until unblocked or the block ends. */
  blocked: 3502,
  /** The token was issued before a revocation of the user's tokens (server API `revoke`): get a fresh one. */
  token_revoked: 3502,
} as const;
export type AuthFailureReason = keyof typeof AuthFailure;
