import { Disconnect, ReplyError, type DisconnectFrame, type ErrorCode, type ErrorFrame, type FrameId } from '@switchboard/protocol';

/**
 * The gateway's error model, in one place. Code anywhere below a transport throws one of
 * the protocol's two error kinds:
 *
 * - `ReplyError {code, message, temporary}` answers one command (WebSocket: an `error`
 *   frame; HTTP: a status from `httpStatusOf` and `{"error": …}`);
 * - `Disconnect {code, reason, reconnectAfterMs?}` ends the connection (a `disconnect` frame,
 *   then the close code).
 *
 * Anything else is a bug or an unexpected failure: `classify` turns it into a temporary
 * `internal` reply error (the caller logs it). `Connection.fail` (WebSocket and every other
 * transport) and `api/errors.ts` (HTTP) are the only callers that put errors on the wire.
 */
export type WireError = ReplyError | Disconnect;

/** What a thrown value becomes on the wire; `unexpected` is true when it was neither kind. */
export function classify(err: unknown): { error: WireError; unexpected: boolean } {
  if (err instanceof ReplyError || err instanceof Disconnect) return { error: err, unexpected: false };
  return { error: new ReplyError('internal', 'internal error'), unexpected: true };
}

/** The `error` frame answering command `id` (no `id`: the client sent none). */
export function errorFrame(id: FrameId | undefined, err: ReplyError): ErrorFrame {
  return { type: 'error', ...(id !== undefined ? { id } : {}), code: err.code, message: err.message, temporary: err.temporary };
}

/** The `disconnect` frame sent before closing with `d.code`. */
export function disconnectFrame(d: Disconnect): DisconnectFrame {
  return { type: 'disconnect', code: d.code, reason: d.reason, ...(d.reconnectAfterMs !== undefined ? { reconnectAfterMs: d.reconnectAfterMs } : {}) };
}

/** The close reason sent with a close code (WebSocket limits it to 123 bytes). */
export function closeReason(d: Disconnect): string {
  return d.reason.slice(0, 120);
}

/** HTTP status of a reply error code (server API answers; `internal`: 503, retry). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'bad_request': return 400;
    case 'unauthorized': return 401;
    case 'token_expired': return 401;
    case 'permission_denied': return 403;
    case 'unknown_channel': return 404;
    case 'not_available': return 404;
    case 'unrecoverable_position': return 410;
    case 'limit_exceeded': return 413;
    case 'too_many_requests': return 429;
    case 'internal': return 503;
    case 'rpc_error': return 422;
    case 'backend_unavailable': return 502;
    default: {
      const never: never = code;
      return never;
    }
  }
}
