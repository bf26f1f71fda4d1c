/** What happened to a connection, as the admin UI's live view shows it. */
type ConnectionEventKind = 'joined' | 'left' | 'refused' | 'closed';

/** One connection event of a node. */
export interface ConnectionEvent {
  /** Increasing per node (a page asks for the events after the last it saw). */
  seq: number;
  /** Unix ms. */
  t: number;
  /**
   * `joined`: authenticated; `left`: an authenticated connection closed; `refused`: closed
   * at authentication (bad token, blocked, a login limit); `closed`: closed before it said who it was.
   */
  kind: ConnectionEventKind;
  client: string;
  /** The user, once known. */
  user?: string;
  /** `websocket` or the HTTP transport carrying it. */
  transport: string;
  /** The close code and its reason (`left`, `refused`, `closed`). */
  code?: number;
  reason?: string;
}

/**
 * The last `capacity` connection events of this node (a ring: the oldest fall off), for the
 * admin UI's live view. Recording is a few field writes; nothing is kept per connection.
 */
export class ConnectionEventLog {
  private readonly ring: ConnectionEvent[] = [];
  private readonly capacity: number;
  private seq = 0;

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  record(e: Omit<ConnectionEvent, 'seq' | 't'>): void {
    this.ring.push({ ...e, seq: ++this.seq, t: Date.now() });
    if (this.ring.length > this.capacity) this.ring.shift();
  }

  /** Events after `seq` (0: all kept), oldest first, the last `limit` of them. */
  since(seq: number, limit = this.capacity): ConnectionEvent[] {
    const out = this.ring.filter((e) => e.seq > seq);
    return out.slice(-limit);
  }
}
