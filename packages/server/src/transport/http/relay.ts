import { randomBytes } from 'node:crypto';
import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler } from '../../broker/broker.ts';
import type { Logger } from '../../logger.ts';
import type { HttpSessions, OpResult, SessionOp } from './sessions.ts';

/**
 * Broker channels that address one node (`$node:<id>`). `$` is not allowed in channel
 * names, so no client can subscribe or publish to them.
 */
export const NODE_CHANNEL_PREFIX = '$node:';

type RelayMessage =
  | (SessionOp & { req: string; from: string })
  | { op: 'reply'; req: string; status: number; body?: string };

/**
 * Wraps a broker factory so publications on node channels go to the relay (set later)
 * instead of the node's hub. Everything else passes through unchanged.
 */
export function withNodeChannels(factory: (h: BrokerHandler) => Broker, relay: () => Relay | undefined): (h: BrokerHandler) => Broker {
  return (h) => factory({
    onPublication: (channel, pub) => (channel.startsWith(NODE_CHANNEL_PREFIX) ? relay()?.receive(pub) : h.onPublication(channel, pub)),
    onControl: (msg) => h.onControl(msg),
    ...(h.onGap ? { onGap: () => h.onGap!() } : {}),
  });
}

/**
 * No sticky sessions: a `/send`, `/poll` or `/close` for a session held by another node is
 * published on that node's channel; the owner runs it and publishes the result back on the
 * asker's channel. One node's messages to another arrive in order, and the asker answers
 * the client only after the owner took the frames, so one client's POSTs stay in order
 * whichever nodes they land on.
 */
export class Relay {
  readonly node: string;
  private readonly broker: Broker;
  private readonly sessions: HttpSessions;
  private readonly log: Logger;
  private readonly pending = new Map<string, { resolve: (r: OpResult) => void; timer: ReturnType<typeof setTimeout> }>();
  private next = 0;

  constructor(o: { broker: Broker; sessions: HttpSessions; log: Logger }) {
    this.broker = o.broker;
    this.sessions = o.sessions;
    this.node = o.sessions.ids.node;
    this.log = o.log;
  }

  /** Subscribes to this node's channel; resolves once other nodes can reach it. */
  start(): Promise<void> {
    return this.broker.subscribe(NODE_CHANNEL_PREFIX + this.node);
  }

  /** Runs an operation on another node's session; `504` when that node does not answer in time. */
  request(toNode: string, op: SessionOp, timeoutMs: number): Promise<OpResult> {
    const req = `${(++this.next).toString(36)}.${randomBytes(6).toString('base64url')}`;
    return new Promise<OpResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve({ status: 504 });
      }, timeoutMs);
      this.pending.set(req, { resolve, timer });
      this.publish(toNode, { ...op, req, from: this.node }).catch((err) => {
        this.log.warn({ err: (err as Error).message }, 'transport relay: publish failed');
        clearTimeout(timer);
        this.pending.delete(req);
        resolve({ status: 503 });
      });
    });
  }

  /** A message on this node's channel: a request to run, or the answer to one of ours. */
  receive(pub: Publication): void {
    const m = pub.data as RelayMessage;
    if (!m || typeof m !== 'object' || typeof m.req !== 'string') return;
    if (m.op === 'reply') {
      const p = this.pending.get(m.req);
      if (!p) return;
      this.pending.delete(m.req);
      clearTimeout(p.timer);
      p.resolve(m.body !== undefined ? { status: m.status, body: m.body } : { status: m.status });
      return;
    }
    const { req, from, ...op } = m;
    void Promise.resolve(this.sessions.run(op as SessionOp)).then((r) => this.publish(from, { op: 'reply', req, ...r })).catch((err) => {
      this.log.warn({ err: (err as Error).message }, 'transport relay: reply failed');
    });
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve({ status: 503 });
    }
    this.pending.clear();
  }

  private publish(node: string, m: RelayMessage): Promise<void> {
    const channel = NODE_CHANNEL_PREFIX + node;
    return this.broker.publish(channel, { channel, data: m, ts: Date.now() });
  }
}
