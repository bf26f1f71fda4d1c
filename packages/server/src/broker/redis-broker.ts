import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import { ClusterSubscriber } from './redis-cluster-subscriber.ts';
import { readSlotRanges } from '../redis/cluster-slots.ts';
import type { Cluster } from 'ioredis';
import { newNodeId } from '../cluster/node-id.ts';

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RedisBrokerOptions {
  /** Connection for PUBLISH/SPUBLISH (may be shared with nothing else that blocks). */
  publisher: RedisConnection;
  /**
   * A separate connection: once subscribed, a Redis connection can only (un)subscribe. On a
   * Redis Cluster, open it with `connectRedis({ subscriber: true })` (one sharded subscriber
   * per primary).
   */
  subscriber: RedisConnection;
  keys?: RedisKeys;
  log?: Logger;
  /** This node's address (`Broker.nodeId`); a new one when absent. */
  nodeId?: string;
}

/**
 * Moves publications and control messages between nodes through Redis pub/sub.
 *
 * - Publications go to one pub/sub channel per Switchboard channel: sharded pub/sub
 *   (SPUBLISH/SSUBSCRIBE) on Redis >= 7, so a Redis Cluster spreads them over shards;
 *   plain PUBLISH/SUBSCRIBE before 7. Control messages for every node go to one plain
 *   channel every node subscribes to; those addressed to one node go to that node's own
 *   channel (sharded like publications where they are), which only it subscribes to.
 * - Order: one connection per node publishes, so one node's publications of a channel
 *   arrive in call order. Publications stored by `RedisHistoryStore.appendAndPublish` are
 *   published inside the storing script, so they arrive in offset order across all nodes.
 * - At-most-once: messages published while this node is cut off from Redis are lost. When
 *   the subscriber connection comes back (ioredis re-subscribes first), `onGap` tells the
 *   node so clients recover from history. On a Redis Cluster the same holds per primary:
 *   `ClusterSubscriber` moves the subscriptions of a failed primary to the replica promoted
 *   in its place, and the broker calls `onGap` once they are all in place again.
 * - One loss, one `lost` and one `back` warn line, one `onGap`: however many connection
 *   attempts fail in between. Publications that may follow a hole (subscribed again during
 *   the loss) are not delivered live: the clients recover them from history after `onGap`.
 */
export class RedisBroker implements Broker {
  readonly nodeId: string;
  private readonly handler: BrokerHandler;
  private readonly pub: RedisClient;
  private readonly sub: RedisClient;
  /** On a Redis Cluster: the subscriber connections, one per primary. */
  private readonly cluster: ClusterSubscriber | undefined;
  private readonly sharded: boolean;
  private readonly keys: RedisKeys;
  private readonly log: Logger | undefined;
  /** Set when the subscriber connection dropped after being ready; cleared on the next ready. */
  private lost = false;
  private closed = false;
  /** This node's own control channel (`RedisKeys.nodeControl`). */
  private readonly nodeChannel: string;
  /** Subscribed to both control channels (the first subscriptions, awaited by `ready`). */
  readonly ready: Promise<void>;

  constructor(handler: BrokerHandler, o: RedisBrokerOptions) {
    this.handler = handler;
    this.nodeId = o.nodeId ?? newNodeId();
    this.pub = o.publisher.redis;
    this.sub = o.subscriber.redis;
    this.sharded = o.subscriber.sharded && o.publisher.sharded;
    this.keys = o.keys ?? new RedisKeys();
    this.log = o.log;
    this.nodeChannel = this.keys.nodeControl(this.nodeId);
    const lose = (reason?: string) => {
      if (this.closed || this.lost) return;
      this.lost = true;
      this.log?.warn(reason ? { reason } : {}, 'redis broker: subscriber connection lost; publications may be missed until it is back');
    };
    if (o.subscriber.topology === 'cluster') {
      // The Cluster client only reads the slot map; the subscriptions are ClusterSubscriber's.
      const topology = this.sub as Cluster;
      const cluster = new ClusterSubscriber({
        topology: () => readSlotRanges(() => topology.cluster('SLOTS')),
        connectionOptions: (host, port) => ({ ...topology.options.redisOptions, host, port }),
        control: this.keys.control(),
        onMessage: (channel, message) => this.onMessage(channel, message),
        onLost: lose,
        onBack: () => {
          if (!this.lost || this.closed) return;
          this.lost = false;
          this.log?.warn('redis broker: subscriber connection back; clients recover from history');
          this.handler.onGap?.();
        },
      });
      this.cluster = cluster;
      this.ready = cluster.start().then(() => cluster.subscribe(this.nodeChannel));
      return;
    }
    this.cluster = undefined;
    this.sub.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => this.onMessage(channel, message));
    if (this.sharded) this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    const back = () => {
      if (!this.lost || this.closed) return;
      this.lost = false;
      // ioredis sent the re-SUBSCRIBE/SSUBSCRIBE commands before this event; a PING queued
      // behind them resolves once Redis has processed them, so nothing after it is missed.
      void this.sub.ping().then(
        () => {
          this.log?.warn('redis broker: subscriber connection back; clients recover from history');
          this.handler.onGap?.();
        },
        () => {},
      );
    };
    this.sub.on('close', () => lose());
    this.sub.on('ready', back);
    this.ready = Promise.all([
      this.sub.subscribe(this.keys.control()),
      this.sharded ? this.sub.ssubscribe(this.nodeChannel) : this.sub.subscribe(this.nodeChannel),
    ]).then(() => undefined);
  }

  /**
   * A pub/sub message. Redis is trusted, but a message that is not what a node writes (a bug,
   * a compromised or foreign node) is ignored with a rate-limited warning: it must never
   * throw out of ioredis' event handler (that would end the process).
   */
  private onMessage(channel: string, message: string): void {
    try {
      if (channel === this.keys.control() || channel === this.nodeChannel) {
        const msg = parseJson(message);
        if (!isRecord(msg) || typeof msg.type !== 'string') return this.ignore('control message', message);
        this.handler.onControl(msg as unknown as ControlMessage);
        return;
      }
      const name = this.keys.channelOf(channel);
      if (name === undefined) return;
      // Subscribed again after a loss that is not over: what arrives may follow a hole. Not
      // delivered live; the clients recover it from history once `onGap` asks them to.
      if (this.lost && (this.cluster ? this.cluster.suspect(channel) : true)) return;
      const pub = parseJson(message);
      if (!isRecord(pub) || typeof pub.ts !== 'number' || (pub.offset !== undefined && typeof pub.offset !== 'number') || (pub.epoch !== undefined && typeof pub.epoch !== 'string')) {
        return this.ignore('publication', message);
      }
      this.handler.onPublication(name, { ...pub, channel: name } as unknown as Publication);
    } catch (err) {
      this.ignore('message', message, err);
    }
  }

  private ignore(what: string, message: string, err?: unknown): void {
    if (this.log) limited(this.log).warn({ bytes: message.length, ...(err !== undefined ? { err: String(err) } : {}) }, `redis broker: malformed ${what} ignored`);
  }

  async publish(channel: string, pub: Publication): Promise<void> {
    const key = this.keys.pubsub(channel);
    const body = JSON.stringify(pub);
    if (this.sharded) await this.pub.spublish(key, body);
    else await this.pub.publish(key, body);
  }

  /** True while some subscription is not in place (publications may be missed): not ready. */
  get degraded(): boolean {
    return this.lost;
  }

  async subscribe(channel: string): Promise<void> {
    const key = this.keys.pubsub(channel);
    if (this.cluster) await this.cluster.subscribe(key);
    else if (this.sharded) await this.sub.ssubscribe(key);
    else await this.sub.subscribe(key);
  }

  async unsubscribe(channel: string): Promise<void> {
    const key = this.keys.pubsub(channel);
    if (this.cluster) await this.cluster.unsubscribe(key);
    else if (this.sharded) await this.sub.sunsubscribe(key);
    else await this.sub.unsubscribe(key);
  }

  async publishControl(msg: ControlMessage, toNode?: string): Promise<void> {
    const body = JSON.stringify(msg);
    if (toNode === undefined) await this.pub.publish(this.keys.control(), body);
    else if (this.sharded) await this.pub.spublish(this.keys.nodeControl(toNode), body);
    else await this.pub.publish(this.keys.nodeControl(toNode), body);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cluster?.close();
    await Promise.all([closeRedis(this.sub), closeRedis(this.pub)]);
  }
}

/** The pub/sub command a publishing script uses, matching what `RedisBroker` subscribes with. */
export function publishCommand(conn: RedisConnection): 'SPUBLISH' | 'PUBLISH' {
  return conn.sharded ? 'SPUBLISH' : 'PUBLISH';
}
