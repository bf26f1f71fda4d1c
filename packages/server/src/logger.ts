import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths never written to logs. Tokens, session ids, API keys and query strings are secrets:
 * callers also avoid passing them, and this list is the second line of defence.
 */
export const REDACT_PATHS = [
  'token', '*.token', 'session', '*.session', 'sessionId', '*.sessionId', 'apiKey', '*.apiKey',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', 'cookie', '*.cookie',
  'url', '*.url', 'query', '*.query', 'jwtSecret', '*.jwtSecret', 'apiKeys', '*.apiKeys',
];

/** A structured `pino` logger with secrets redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { svc: 'switchboard' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
