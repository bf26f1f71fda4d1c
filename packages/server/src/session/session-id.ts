import { randomBytes } from 'node:crypto';

/** A new private session id: `s_` and 144 random bits. */
export function newSessionId(): string {
  return `s_${randomBytes(18).toString('base64url')}`;
}

/** True when `id` has the shape of a session id (cheap check before any store look-up). */
export function isSessionIdShape(id: unknown): id is string {
  return typeof id === 'string' && /^s_[A-Za-z0-9_-]{16,64}$/.test(id);
}
