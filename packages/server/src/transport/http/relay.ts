import type { NodeRequests, RequestOutcome } from '../../cluster/node-requests.ts';
import type { Logger } from '../../logger.ts';
import type { Metrics } from '../../metrics.ts';
import { UNKNOWN, type HttpSessions, type OpResult, type SessionOp } from './sessions.ts';

/** Too many requests relayed and waiting (`transports.maxRelayedRequests`): retry or reconnect. */
const BUSY: OpResult = { status: 503, body: 'this node relays too many requests to other nodes right now; retry' };

/** The node service that runs an operation on one of the node's HTTP-transport sessions. */
const HTTP_SESSION_SERVICE = 'http.session';

/** An operation as another node sent it, or undefined when it is not one (ignored). */
function sessionOp(body: unknown): SessionOp | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (typeof o.conn !== 'string') return undefined;
  if (o.op === 'send' && typeof o.body === 'string') return { op: 'send', conn: o.conn, body: o.body };
  if (o.op === 'poll' && typeof o.seq === 'number') return { op: 'poll', conn: o.conn, seq: o.seq };
  if (o.op === 'close') return { op: 'close', conn: o.conn };
  return undefined;
}

/** A relayed operation's outcome as the HTTP status the asking node answers with. */
function resultOf(r: RequestOutcome): OpResult {
  switch (r.kind) {
    case 'reply': {
      const b = r.body as Partial<OpResult> | null;
      if (!b || typeof b.status !== 'number') return { status: 503 };
      return typeof b.body === 'string' ? { status: b.status, body: b.body } : { status: b.status };
    }
    case 'error':
      // The node is up but serves no HTTP transports (or failed): the id is not one it holds.
      return r.error === 'unknown_service' ? { status: 404 } : { status: 503 };
    case 'timeout':
      return { status: 504 };
    case 'unreachable':
      return { status: 503 };
    default: {
      const never: never = r;
      return never;
    }
  }
}

/**
 * No sticky sessions: a `/send`, `/poll` or `/close` for a session held by another node is
 * a request to that node's `http.session` service (`NodeRequests`, over the broker's
 * node-addressed control messages); the owner runs it and replies. One node's messages to
 * another arrive in order, and the asker answers the client only after the owner took the
 * frames, so one client's POSTs stay in order whichever nodes they land on.
 */
export class Relay {
  private readonly requests: NodeRequests;
  private readonly log: Logger;
  private readonly isAlive: (node: string) => boolean | Promise<boolean>;
  private readonly max: number;
  private readonly metrics: Metrics;

  constructor(o: {
    requests: NodeRequests; sessions: HttpSessions; log: Logger; metrics: Metrics;
    /** Whether a node is alive (`LiveNodes.isAlive`): an id naming one that is not is answered `404` at once. */
    isAlive: (node: string) => boolean | Promise<boolean>;
    /** Most requests relayed and waiting at once (`transports.maxRelayedRequests`). */
    maxInFlight: number;
  }) {
    this.requests = o.requests;
    this.log = o.log;
    this.isAlive = o.isAlive;
    this.max = o.maxInFlight;
    this.metrics = o.metrics;
    o.requests.serve(HTTP_SESSION_SERVICE, (body) => {
      const op = sessionOp(body);
      if (!op) {
        this.log.debug('transport relay: malformed operation ignored');
        return { status: 400 };
      }
      return o.sessions.run(op);
    });
  }

  /**
   * Runs an operation on another node's session: `404` at once when that node is not alive,
   * `503` at once when `maxInFlight` requests are already waiting, `504` when the node does
   * not answer in time.
   */
  async request(toNode: string, op: SessionOp, timeoutMs: number): Promise<OpResult> {
    if (this.metrics.relayedInFlight >= this.max) return BUSY;
    this.metrics.relayedInFlight++;
    try {
      const alive = this.isAlive(toNode);
      if (alive !== true && !(await alive)) return UNKNOWN;
      return resultOf(await this.requests.request(toNode, HTTP_SESSION_SERVICE, op, timeoutMs));
    } finally {
      this.metrics.relayedInFlight--;
    }
  }
}
