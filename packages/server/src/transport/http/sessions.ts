import type { ServerResponse } from 'node:http';
import type { Node } from '../../node.ts';
import type { OpenConnection, UpgradeContext } from '../transport.ts';
import type { Metrics } from '../../metrics.ts';
import { HttpSession, type HttpTransportName, type SessionOwner } from './http-session.ts';
import { SessionIds } from './session-id.ts';

/**
 * An operation on an HTTP-transport session, by its connection id. The route runs it when
 * the id is this node's; otherwise the relay carries it to the node named in the id.
 */
export type SessionOp =
  | { op: 'send'; conn: string; body: string }
  | { op: 'poll'; conn: string; seq: number }
  | { op: 'close'; conn: string };

/** The outcome of a `SessionOp`: an HTTP status and, for a poll, the batch. */
export interface OpResult {
  status: number;
  body?: string;
}

/**
 * Longest a `/send` answer waits for a full inbox to make room (below the relay's 10 s, so a
 * relayed `/send` is answered, not timed out). Past it the answer goes anyway, and a client
 * that keeps sending meets the inbox's byte bound (`3013`), as on WebSocket.
 */
const SEND_HOLD_MS = 5_000;

/** `404` for an id this node does not hold (ended, expired, or never valid). */
export const UNKNOWN: OpResult = { status: 404 };
const ACCEPTED: OpResult = { status: 202 };

/**
 * This node's HTTP-transport sessions by handle, and the operations on them. Ids are
 * verified (HMAC, constant time) before a session is touched.
 */
export class HttpSessions implements SessionOwner {
  readonly ids: SessionIds;
  readonly metrics: Metrics;
  readonly pollTimeoutMs: number;
  /** Opens the connection (its wire protocol) of a new session. */
  private readonly openConnection: OpenConnection;
  private readonly sessions = new Map<string, HttpSession>();

  constructor(node: Node, o: { pollTimeoutMs: number; openConnection: OpenConnection; ids?: SessionIds }) {
    this.openConnection = o.openConnection;
    this.metrics = node.metrics;
    this.pollTimeoutMs = o.pollTimeoutMs;
    // Ids name the node by its broker address, so the relay can route to it.
    this.ids = o.ids ?? new SessionIds(node.id);
  }

  /** Sessions open on this node. */
  get size(): number {
    return this.sessions.size;
  }

  /** Opens a session and its connection; a stream's response is attached before any frame. */
  open(name: HttpTransportName, ctx: UpgradeContext, batch: boolean, res?: ServerResponse): HttpSession {
    const { id, handle } = this.ids.mint();
    const s = new HttpSession({ name, id, handle, batch, owner: this });
    this.sessions.set(handle, s);
    if (res) s.attach(res);
    s.conn = this.openConnection(s, ctx);
    return s;
  }

  forget(handle: string): void {
    this.sessions.delete(handle);
  }

  /** Runs an operation on a session of this node. */
  run(o: SessionOp): OpResult | Promise<OpResult> {
    const parsed = SessionIds.parse(o.conn);
    const s = parsed && this.ids.verify(parsed) ? this.sessions.get(parsed.handle) : undefined;
    if (!s) return UNKNOWN;
    switch (o.op) {
      case 'send': {
        this.receive(s, Buffer.from(o.body));
        const held = s.accepting(SEND_HOLD_MS);
        return held ? held.then(() => ACCEPTED) : ACCEPTED;
      }
      case 'close':
        s.closeByClient();
        return { status: 204 };
      case 'poll': {
        if (s.name !== 'long-polling') return { status: 400, body: 'not a long-polling connection' };
        return new Promise<OpResult>((resolve) => {
          if (!s.poll(o.seq, (body) => resolve({ status: 200, body: body.toString('utf8') }))) resolve({ status: 409, body: 'seq is not the last batch received' });
        });
      }
      default: {
        const never: never = o;
        return { status: 400, body: `unknown op ${(never as { op: string }).op}` };
      }
    }
  }

  /** Hands each line of a `/send` body to the connection, in order (empty lines are skipped). */
  private receive(s: HttpSession, body: Buffer): void {
    const conn = s.conn;
    if (!conn) return;
    for (let start = 0; start < body.length;) {
      let end = body.indexOf(10, start);
      if (end === -1) end = body.length;
      const stop = end > start && body[end - 1] === 13 ? end - 1 : end;
      if (stop > start) {
        const frame = body.subarray(start, stop);
        this.metrics.messagesIn++;
        this.metrics.bytesIn += frame.length;
        conn.receive(frame, false);
      }
      start = end + 1;
    }
  }
}
