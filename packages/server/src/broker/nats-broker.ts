import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';
import { token, type NatsNames } from '../nats/names.ts';
import type { Logger } from '../logger.ts';
import { newNodeId } from '../cluster/node-id.ts';
import { publicationOf } from '../history/jetstream-messages.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

export interface NatsBrokerOptions {
  nc: NatsConnection;
  names: NatsNames;
  /**
   * The NATS servers (`nats` setting): `ready` waits until each of them routes this node's
   * subjects to it (interest travels between servers asynchronously). Absent: the
   * connection's own server only.
   */
  servers?: string[];
  /** This node's address (`Broker.nodeId`); a new one when absent. */
  nodeId?: string;
  /**
   * Deliver the publications of channels with history from the history streams (an ordered
   * consumer per stream, from its end at start), as `JetStreamHistoryStore` with `publishes`
   * stores them: every node receives them in stream order, so in offset order per channel,
   * whichever node stored them. The streams must exist (the backends create them first).
   */
  history?: boolean;
  log?: Logger;
}

/**
 * Moves publications and control messages between nodes over NATS.
 *
 * - Publications of channels without history: core NATS, a subject per channel under one
 *   wildcard every node subscribes to at start (a node filters the channels it has
 *   subscribers for), so a channel a node subscribes to is delivered at once, with no wait
 *   for interest to travel between NATS servers. One connection per node publishes, so one
 *   node's publications of a channel arrive in call order.
 * - Publications of channels with history (`history`): read from the JetStream history
 *   streams by an ordered consumer per stream on each node. JetStream orders a stream, the
 *   consumer delivers it gap-free (it resumes after the last sequence it delivered whenever
 *   it is recreated: a lost connection, a new stream leader), so nodes receive a channel's
 *   publications in offset order and none is lost while the node is cut off.
 * - Control messages: one subject every node subscribes to, and one per node for those
 *   addressed to it (nobody receives those when the node is not live).
 * - Core NATS is at-most-once: when the connection comes back after a loss, `onGap` tells the
 *   node, whose clients recover from history.
 */
export class NatsBroker implements Broker {
  readonly nodeId: string;
  readonly ready: Promise<void>;
  private readonly o: NatsBrokerOptions;
  private readonly handler: BrokerHandler;
  /** Channels with subscribers on this node. */
  private readonly channels = new Set<string>();
  private readonly subs: Subscription[] = [];
  private readonly consumers: ConsumerMessages[] = [];
  private readonly probe: string;
  private closed = false;

  constructor(handler: BrokerHandler, o: NatsBrokerOptions) {
    this.o = o;
    this.handler = handler;
    this.nodeId = o.nodeId ?? newNodeId();
    const n = o.names;
    const onControl = (data: Uint8Array) => {
      const msg = parse(data);
      if (isRecord(msg) && typeof msg.type === 'string') handler.onControl(msg as unknown as ControlMessage);
    };
    const head = n.publicationSubject('');
    const prefix = head.slice(0, head.lastIndexOf('.') + 1);
    this.subs.push(o.nc.subscribe(`${prefix}*`, {
      callback: (err, m) => {
        if (err) return;
        const pub = parse(m.data);
        if (!isRecord(pub) || typeof pub.channel !== 'string' || !this.channels.has(pub.channel)) return;
        if (m.subject !== n.publicationSubject(pub.channel)) return;
        handler.onPublication(pub.channel, pub as unknown as Publication);
      },
    }));
    for (const subject of [n.controlSubject, n.nodeSubject(this.nodeId)]) {
      this.subs.push(o.nc.subscribe(subject, { callback: (err, m) => void (err ? undefined : onControl(m.data)) }));
    }
    // Subscribed last: once a server routes the probe here, it routes the subjects above too.
    this.probe = `${n.nodeSubject(this.nodeId)}.probe`;
    const probes = new Set<string>();
    this.subs.push(o.nc.subscribe(this.probe, { callback: (_err, m) => void probes.add(new TextDecoder().decode(m.data)) }));
    void this.watch();
    this.ready = (async () => {
      await o.nc.flush();
      await Promise.all((o.servers ?? []).map((url) => this.reached(url, probes)));
      if (o.history) for (const stream of n.historyStreams()) await this.consume(stream);
    })();
  }

  /** Waits until the server at `url` routes this node's subjects here (a probe sent through it arrives). */
  private async reached(url: string, arrived: Set<string>): Promise<void> {
    const nc = await connect({ servers: url, reconnect: false, timeout: 2000 }).catch(() => undefined);
    if (!nc) return; // unreachable now: it learns the interest when it joins
    try {
      for (let i = 0; i < 400 && !this.closed; i++) {
        const id = `${token(url)}-${i}`;
        nc.publish(this.probe, id);
        await nc.flush();
        for (let k = 0; k < 5 && !arrived.has(id); k++) await new Promise((r) => setTimeout(r, 5));
        if (arrived.has(id)) return;
      }
    } finally {
      await nc.close();
    }
  }

  /** Tells the node about gaps: core messages published while the connection was down are lost. */
  private async watch(): Promise<void> {
    for await (const s of this.o.nc.status()) {
      if (s.type === 'disconnect') this.o.log?.warn({ nats: s.server }, 'nats: connection lost, reconnecting');
      if (s.type === 'reconnect') {
        this.o.log?.warn({ nats: s.server }, 'nats: connection back, clients recover from history');
        this.handler.onGap?.();
      }
    }
  }

  private async consume(stream: string): Promise<void> {
    const consumer = await jetstream(this.o.nc).consumers.get(stream, { deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume({
      callback: (m) => {
        const channel = this.o.names.channelOfHistorySubject(m.subject);
        const offset = Number(m.headers?.get('Sb-Off'));
        if (channel === undefined || !this.channels.has(channel) || !offset) return;
        const pub = publicationOf({ seq: m.seq, offset, epoch: m.headers?.get('Sb-Ep') ?? '', prev: 0, ts: 0, body: m.data });
        const traceparent = m.headers?.get('Sb-Tp');
        this.handler.onPublication(channel, traceparent ? ({ ...pub, traceparent } as Publication) : pub);
      },
    });
    this.consumers.push(messages);
  }

  async publish(channel: string, pub: Publication): Promise<void> {
    this.o.nc.publish(this.o.names.publicationSubject(channel), JSON.stringify(pub));
  }

  async subscribe(channel: string): Promise<void> {
    if (!this.closed) this.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  async publishControl(msg: ControlMessage, toNode?: string): Promise<void> {
    this.o.nc.publish(toNode === undefined ? this.o.names.controlSubject : this.o.names.nodeSubject(toNode), JSON.stringify(msg));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.consumers.map((c) => c.close()));
    for (const s of this.subs) s.unsubscribe();
    this.channels.clear();
    await this.o.nc.flush().catch(() => {});
  }
}
