import type { ControlMessage } from '../broker/broker.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';

type RequestMessage = Extract<ControlMessage, { type: 'request' }>;
type ReplyMessage = Extract<ControlMessage, { type: 'reply' }>;

/** Answers one request to a service of this node (a JSON value), or throws (the asker gets an error). */
export type ServiceHandler = (body: unknown, from: string) => unknown;

/** What became of a request to one node. */
export type RequestOutcome =
  /** The node's service answered. */
  | { kind: 'reply'; body: unknown }
  /** The node answered that it has no such service, or that the service failed. */
  | { kind: 'error'; error: string }
  /** No answer in time (the node is gone, or the message was lost). */
  | { kind: 'timeout' }
  /** The request could not be sent (the broker failed) or this node is closing. */
  | { kind: 'unreachable' };

/** What `NodeRequests` needs: this node's id and the broker's control channel. */
export interface NodeRequestsOptions {
  nodeId: string;
  /** `Broker.publishControl`: to every node, or to `toNode` only. */
  publish(msg: ControlMessage, toNode?: string): Promise<void>;
  log: Logger;
}

/**
 * Requests between nodes over the broker's control messages, for the parts of the gateway
 * that need another node to do something and answer (the HTTP transports' relay, the admin
 * UI's cluster-wide queries). A part offers a named service (`serve`); another node asks it
 * (`request` one node, `survey` every node) and gets the `reply` addressed back to it. The
 * node and the broker stay unaware of what the services carry.
 */
export class NodeRequests {
  readonly nodeId: string;
  private readonly o: NodeRequestsOptions;
  private readonly services = new Map<string, ServiceHandler>();
  /** Requests of this node waiting for replies, by id. */
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private closed = false;

  constructor(o: NodeRequestsOptions) {
    this.o = o;
    this.nodeId = o.nodeId;
  }

  /** Offers `service` on this node; the composition root registers each service once. */
  serve(service: string, handler: ServiceHandler): void {
    if (this.services.has(service)) throw new Error(`node service ${service} is already served`);
    this.services.set(service, handler);
  }

  /** Asks one node's service; resolves with its answer, or why there is none (never rejects). */
  request(toNode: string, service: string, body: unknown, timeoutMs: number): Promise<RequestOutcome> {
    return new Promise((resolve) => {
      const id = this.begin(timeoutMs, {
        reply: (r) => {
          this.end(id);
          resolve(outcomeOf(r));
        },
        ended: resolve,
      });
      this.send({ type: 'request', service, id, from: this.nodeId, body }, toNode, id);
    });
  }

  /**
   * Asks the service of every node at once; resolves with each of `nodes`' outcome once all
   * of them answered, or after `timeoutMs` (the silent ones: `timeout`). Answers of nodes not
   * in `nodes` are ignored.
   */
  survey(service: string, body: unknown, nodes: Iterable<string>, timeoutMs: number): Promise<Map<string, RequestOutcome>> {
    const expected = new Set(nodes);
    const out = new Map<string, RequestOutcome>();
    return new Promise((resolve) => {
      if (expected.size === 0) return resolve(out);
      const id = this.begin(timeoutMs, {
        reply: (r) => {
          if (!expected.has(r.node) || out.has(r.node)) return;
          out.set(r.node, outcomeOf(r));
          if (out.size < expected.size) return;
          this.end(id);
          resolve(out);
        },
        ended: (why) => {
          for (const n of expected) if (!out.has(n)) out.set(n, why);
          resolve(out);
        },
      });
      this.send({ type: 'request', service, id, from: this.nodeId, body }, undefined, id);
    });
  }

  /** A `request` control message (broadcast, or addressed to this node): runs the service, replies to its sender. */
  onRequest(msg: RequestMessage): void {
    if (typeof msg.id !== 'string' || typeof msg.from !== 'string' || typeof msg.service !== 'string') {
      limited(this.o.log).warn({}, 'node request: malformed request ignored');
      return;
    }
    const reply = (r: { body: unknown } | { error: string }) => {
      this.o.publish({ type: 'reply', id: msg.id, node: this.nodeId, ...r }, msg.from).catch((err) => {
        limited(this.o.log).warn({ err: (err as Error).message, service: msg.service }, 'node request: reply failed');
      });
    };
    const handler = this.services.get(msg.service);
    if (!handler) return reply({ error: 'unknown_service' });
    new Promise((resolve) => resolve(handler(msg.body, msg.from))).then(
      (body) => reply({ body: body ?? null }),
      (err) => {
        limited(this.o.log).warn({ err: (err as Error)?.message, service: msg.service }, 'node request: service failed');
        reply({ error: 'failed' });
      },
    );
  }

  /** A `reply` addressed to this node. */
  onReply(msg: ReplyMessage): void {
    if (typeof msg.id !== 'string' || typeof msg.node !== 'string') return;
    this.pending.get(msg.id)?.reply(msg);
  }

  /** Ends every request still waiting (`unreachable`); later ones end so at once. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.fail(id, { kind: 'unreachable' });
  }

  /** Registers a request with its timeout; returns its id. */
  private begin(timeoutMs: number, p: { reply(r: ReplyMessage): void; ended(why: Ending): void }): string {
    const id = (++this.next).toString(36);
    const timer = setTimeout(() => this.fail(id, { kind: 'timeout' }), timeoutMs);
    this.pending.set(id, { ...p, timer });
    return id;
  }

  /** Forgets a request that got what it waited for. */
  private end(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
  }

  private fail(id: string, why: Ending): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.end(id);
    p.ended(why);
  }

  private send(msg: RequestMessage, toNode: string | undefined, id: string): void {
    if (this.closed) return this.fail(id, { kind: 'unreachable' });
    this.o.publish(msg, toNode).catch((err) => {
      limited(this.o.log).warn({ err: (err as Error).message, service: msg.service }, 'node request: publish failed');
      this.fail(id, { kind: 'unreachable' });
    });
  }
}

type Ending = Extract<RequestOutcome, { kind: 'timeout' | 'unreachable' }>;

interface Pending {
  reply(r: ReplyMessage): void;
  ended(why: Ending): void;
  timer: NodeJS.Timeout;
}

function outcomeOf(reply: ReplyMessage): RequestOutcome {
  if (reply.error !== undefined) return { kind: 'error', error: String(reply.error) };
  return { kind: 'reply', body: reply.body };
}
