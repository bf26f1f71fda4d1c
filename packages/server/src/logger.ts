import { createHmac, randomBytes } from 'node:crypto';
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

/** The key of this process's client tags: random at start, never written anywhere. */
const TAG_KEY = randomBytes(32);

/**
 * What a log line shows for a connection's id (`client`): a keyed hash, the same for one
 * connection in every line of this process (to follow it), never the id itself (which other
 * commands and protocols accept, e.g. Pusher's `socket_id`).
 */
function clientTag(id: unknown): string {
  return typeof id === 'string' ? `t_${createHmac('sha256', TAG_KEY).update(id).digest('base64url').slice(0, 12)}` : String(id);
}

/** A structured `pino` logger with secrets redacted and connection ids replaced by tags. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { svc: 'switchboard' }, serializers: { client: clientTag }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
