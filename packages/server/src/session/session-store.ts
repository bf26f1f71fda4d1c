/** A gateway session: survives reconnects and is shared by tabs that present its id. */
export interface Session {
  /** Private, unguessable (`s_…`); never logged. */
  id: string;
  user: string;
  createdAt: number;
  lastSeenAt: number;
}

/**
 * Where sessions live. A session belongs to exactly one user for its whole life; `get` of
 * an expired or unknown session answers undefined (the caller then creates a new one).
 * A session expires `idleTtlMs` after it was created or last touched.
 *
 * Implementations: `MemorySessionStore` (one process), `SqliteSessionStore` (survives
 * restarts); the contract every one of them passes is `runSessionStoreContract`.
 */
export interface SessionStore {
  /** Creates a session for `user` with a new private id. */
  create(user: string, idleTtlMs: number): Promise<Session>;
  /** The live session with this id, or undefined when unknown or expired. */
  get(id: string): Promise<Session | undefined>;
  /** Marks the session used now, extending its idle expiry. No-op for an unknown id. */
  touch(id: string, idleTtlMs: number): Promise<void>;
  /** Forgets a session at once (logout, revocation). No-op for an unknown id. */
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}
