/**
 * A user's standing with the operator: blocked (until a time, or until unblocked) and/or
 * a revocation of every token issued before a time. Absent fields: no block, no revocation.
 */
export interface AccessEntry {
  /** Blocked until this Unix time (ms); `Infinity` until unblocked. Absent: not blocked. */
  blockedUntil?: number;
  /** Why (operator's words, at most 200 characters); never shown to the client. */
  reason?: string;
  /** Tokens whose `iat` (Unix seconds) is before this were revoked. */
  revokedBefore?: number;
}

/**
 * Where blocks and token revocations live, shared by every node of a deployment and kept
 * across restarts (SQLite, Redis; memory for tests and `storage: memory`).
 *
 * `get` answers only what is in force at the store's clock: an expired block reads as absent.
 * `revoke` only ever moves `revokedBefore` forward (a later, smaller `before` changes nothing).
 * Implementations pass `runAccessStoreContract`.
 */
export interface AccessStore {
  /** Blocks `user` until `untilMs` (Unix ms; `Infinity`: until `unblock`). Replaces an earlier block. */
  block(user: string, untilMs: number, reason?: string): Promise<void>;
  /** Lifts a block. No-op when the user is not blocked. Revocations stay. */
  unblock(user: string): Promise<void>;
  /** Refuses the user's tokens issued before `beforeSec` (Unix seconds), from now on. */
  revoke(user: string, beforeSec: number): Promise<void>;
  /** What is in force for `user`; undefined when nothing is. */
  get(user: string): Promise<AccessEntry | undefined>;
  close(): Promise<void>;
}

/** Why a user or token is refused: `blocked`, or `token_revoked` (a token older than a revocation). */
export type AccessRefusal = 'blocked' | 'token_revoked';

/**
 * The one rule both authentication and live enforcement apply. `issuedAt` is the token's
 * `iat` (Unix seconds), `null` for a token without one (it cannot prove it is recent, so a
 * revocation refuses it), and `undefined` for connections that carry no token (anonymous,
 * or a cookie session through the connect hook): revocations do not apply to them, blocks do.
 */
export function accessRefusal(entry: AccessEntry | undefined, issuedAt: number | null | undefined, nowMs = Date.now()): AccessRefusal | undefined {
  if (!entry) return undefined;
  if (entry.blockedUntil !== undefined && entry.blockedUntil > nowMs) return 'blocked';
  if (entry.revokedBefore !== undefined && issuedAt !== undefined && (issuedAt === null || issuedAt < entry.revokedBefore)) return 'token_revoked';
  return undefined;
}

/** Reasons are operator text: bounded before they are stored. */
export function boundedReason(reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : reason.slice(0, 200);
}
