/** A gateway session: survives reconnects and is shared by tabs that present its id. */
export interface Session {
  /** Private, unguessable (`s_…`); never logged. */
  id: string;
  user: string;
  createdAt: number;
  lastSeenAt: number;
}

/**
 * Where sessions live. A session belongs to exactly one user; `get` of an expired session
 * answers undefined.
 */
export interface SessionStore {
  create(user: string, idleTtlMs: number): Promise<Session>;
  get(id: string): Promise<Session | undefined>;
  /** Marks the session used now, extending its idle expiry. */
  touch(id: string, idleTtlMs: number): Promise<void>;
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}
