import { createHash, randomBytes } from 'node:crypto';
import { ApiKeyChecker } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { KeyedRateLimiter } from '../rate-limit.ts';
import type { AdminStore } from './admin-store.ts';

/** The admin session cookie's name. */
export const SESSION_COOKIE = 'sb_admin';

export interface AdminAuthOptions {
  password: string;
  store: AdminStore;
  sessionTtlMs: number;
  /** Login attempts per client IP per minute (bursts of that many). */
  attemptsPerMinute: number;
}

/** The id of a session as the store keeps it: a digest, so a store dump holds no usable cookie. */
const digestOf = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

/**
 * Admin logins: the password is compared in constant time (SHA-256 digests with
 * `timingSafeEqual`, as API keys are), attempts are rate-limited per client IP, and a login
 * yields a random 256-bit session id (the cookie) kept in the admin store by digest with an
 * absolute expiry. Neither the password nor a session id is ever logged.
 */
export class AdminAuth {
  readonly sessionTtlMs: number;
  private readonly password: ApiKeyChecker;
  private readonly store: AdminStore;
  private readonly attempts: KeyedRateLimiter;

  constructor(o: AdminAuthOptions) {
    this.password = new ApiKeyChecker([o.password]);
    this.store = o.store;
    this.sessionTtlMs = o.sessionTtlMs;
    this.attempts = new KeyedRateLimiter(o.attemptsPerMinute / 60, o.attemptsPerMinute);
  }

  /**
   * Checks a password from `ip`: a new session id and its expiry, or ApiError 429 (too many
   * attempts from this IP; counted before the password is looked at) or 401 (wrong password).
   */
  async login(ip: string, presented: unknown): Promise<{ id: string; expiresAt: number }> {
    if (!this.attempts.take(ip)) throw new ApiError(429, 'too_many_requests', 'too many login attempts from this address; wait a minute and try again');
    if (typeof presented !== 'string' || !this.password.matches(presented)) throw new ApiError(401, 'unauthorized', 'wrong password');
    const id = randomBytes(32).toString('base64url');
    await this.store.createSession(digestOf(id), this.sessionTtlMs);
    return { id, expiresAt: Date.now() + this.sessionTtlMs };
  }

  /** When the session expires; undefined for a missing, unknown or expired one. */
  async check(id: string | undefined): Promise<number | undefined> {
    if (id === undefined || id.length === 0 || id.length > 100) return undefined;
    return this.store.sessionExpiry(digestOf(id));
  }

  async logout(id: string | undefined): Promise<void> {
    if (id !== undefined && id.length > 0 && id.length <= 100) await this.store.deleteSession(digestOf(id));
  }
}
