/** How many logins of one user may be live at once in a scope, and what happens past it. */
export interface LoginLimit {
  maxPerUser: number;
  /** `kick_oldest`: the new login is admitted and the oldest live ones are evicted; `reject_new`: it is refused. */
  onLimit: 'kick_oldest' | 'reject_new';
}

/** What `acquire` decided. `evicted` lists logins that must now be disconnected everywhere. */
export type AcquireResult = { admitted: true; evicted: string[] } | { admitted: false; live: number };

/**
 * The live logins of each user, per scope (`*` for the whole deployment, `ns:<name>` for a
 * namespace), for single sign-on. A login is live while at least one of its connections is
 * registered; "oldest" is the login whose first live connection came first.
 *
 * Contract (`runLoginRegistryContract`):
 * - `acquire` is atomic per (scope, user): two new logins racing cannot both take the last slot.
 * - A connection of a login that is already live is always admitted and evicts nothing, so
 *   tabs of one login never push each other out.
 * - Evicted logins are removed from the scope at once (a later `release` of their
 *   connections is a no-op), so they no longer count against the limit.
 * - `release` of an unknown connection is a no-op.
 *
 * A cluster implementation (Redis) keys each connection by the node that holds it and lets
 * the entries of a node that stops refreshing expire, so a crashed node frees its logins.
 */
export interface LoginRegistry {
  acquire(scope: string, user: string, login: string, client: string, limit: LoginLimit): Promise<AcquireResult>;
  release(scope: string, user: string, login: string, client: string): Promise<void>;
  /** Live logins of a user in a scope, oldest first (diagnostics and tests). */
  logins(scope: string, user: string): Promise<string[]>;
  close(): Promise<void>;
}
