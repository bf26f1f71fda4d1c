import type { ErrorFrame } from '@switchboard/protocol';

/**
 * Codes of errors the SDK raises itself, besides the server's error codes
 * (`permission_denied`, `bad_request`, … from protocol v1).
 *
 * - `queue_full`: the offline queue was full (see `offlineQueue.overflow`).
 * - `closed`: the client was closed (by `close()`, a terminal close code, or a logout)
 *   before the call was answered.
 * - `unauthorized`: the token provider refused (threw an unauthorized error).
 * - `delta_failed`: a delta (`subscribe(channel, {delta})`) could not be applied; the
 *   subscription was renewed, and without history the publication it carried is lost.
 */
export type ClientErrorCode = 'queue_full' | 'closed' | 'unauthorized' | 'delta_failed';

/** An error answered by the gateway (`error` frame) or raised by the SDK. */
export class SwitchboardError extends Error {
  /** A protocol error code (`permission_denied`, …) or a ClientErrorCode. */
  readonly code: string;
  /** True when the same call may succeed if retried later. */
  readonly temporary: boolean;
  /** The command id, when the error answers a command. */
  readonly id: string | number | undefined;
  /** `rpc_error` only: the application backend's error `{code?, data?}`. */
  readonly details: { code?: string; data?: unknown } | undefined;
  constructor(code: string, message: string, options: { temporary?: boolean; id?: string | number; details?: { code?: string; data?: unknown } } = {}) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.temporary = options.temporary ?? false;
    this.id = options.id;
    this.details = options.details;
  }
}

/** The error an `error` frame answers a command with. */
export function errorOfFrame(f: ErrorFrame): SwitchboardError {
  return new SwitchboardError(f.code, f.message, { temporary: f.temporary, id: f.id, ...(f.details !== undefined ? { details: f.details } : {}) });
}

/**
 * Throw this (or any error whose `code` is `"unauthorized"`, or whose `status` is 401 or 403)
 * from a token provider to say "this user is logged out": the client stops reconnecting and
 * closes with reason `unauthorized`.
 */
export class UnauthorizedError extends Error {
  readonly code = 'unauthorized';
  constructor(message = 'unauthorized') {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

/** True when a token provider's error means "not logged in" (stop reconnecting). */
export function isUnauthorizedError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; status?: unknown; name?: unknown };
  return e.code === 'unauthorized' || e.status === 401 || e.status === 403 || e.name === 'UnauthorizedError';
}
