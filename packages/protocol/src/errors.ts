import { TemporaryErrorCodes, closeReason, type ErrorCode } from './codes.ts';

/**
 * A reply error: answers one command with an `error` frame; the connection stays.
 * Handlers throw it; one place in the server turns it into the frame.
 */
export class ReplyError extends Error {
  readonly code: ErrorCode;
  readonly temporary: boolean;
  constructor(code: ErrorCode, message: string, temporary = TemporaryErrorCodes.has(code)) {
    super(message);
    this.name = 'ReplyError';
    this.code = code;
    this.temporary = temporary;
  }
}

/**
 * A disconnect: ends the connection with a close code and reason.
 * Handlers throw it; the server sends a `disconnect` frame and then the close frame.
 */
export class Disconnect extends Error {
  readonly code: number;
  readonly reason: string;
  readonly reconnectAfterMs: number | undefined;
  constructor(code: number, reason: string = closeReason(code) ?? 'disconnect', reconnectAfterMs?: number) {
    super(`${code} ${reason}`);
    this.name = 'Disconnect';
    this.code = code;
    this.reason = reason;
    this.reconnectAfterMs = reconnectAfterMs;
  }
}
