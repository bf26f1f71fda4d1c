import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import { ClusterSubscriber } from './redis-cluster-subscriber.ts';
import { readSlotRanges } from '../redis/cluster-slots.ts';
import type { Cluster } from 'ioredis';

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
   * Redis Cluster it only reads the slot map: the broker keeps its own subscriber connection
   * per primary (`ClusterSubscriber`).
   */
  subscriber: RedisConnection;
  keys?: RedisKeys;
  log?: Logger;
}

/**
 * Moves publications and control messages between nodes through Redis pub/sub.
 *
 * - Publications go to one pub/sub channel per Switchboard channel: sharded pub/sub
 *   (SPUBLISH/SSUBSCRIBE) on Redis >= 7, so a Redis Cluster spreads them over shards;
 *   plain PUBLISH/SUBSCRIBE before 7. Control messages go to one plain channel every node
 *   subscribes to.
 * - Order: one connection per node publishes, so one node's publications of a channel
 *   arrive in call order. Publications stored by `RedisHistoryStore.appendAndPublish` are
 *   published inside the storing script, so they arrive in offset order across all nodes.
 * - At-most-once: messages published while this node is cut off from Redis are lost. When
 *   the subscriber connection comes back (ioredis re-subscribes first), `onGap` tells the
 *   node so clients recover from history. On a Redis Cluster the same holds per primary:
 *   `ClusterSubscriber` moves the subscriptions of a failed primary to the replica promoted
 *   in its place, and the broker calls `onGap` once they are all in place again.
 * - One loss, one `lost` and one `back` warn line, one `onGap`: however many connection
 *   attempts fail in between.
 */
export class RedisBroker implements Broker {
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
  /** Subscribed to the control channel (the first SUBSCRIBE, awaited by `ready`). */
  readonly ready: Promise<void>;

  constructor(handler: BrokerHandler, o: RedisBrokerOptions) {
    this.handler = handler;
    this.pub = o.publisher.redis;
    this.sub = o.subscriber.redis;
    this.sharded = o.subscriber.sharded && o.publisher.sharded;
    this.keys = o.keys ?? new RedisKeys();
    this.log = o.log;
    const lose = (reason?: string) => {
      if (this.closed || this.lost) return;
      this.lost = true;
      this.log?.warn(reason ? { reason } : {}, 'redis broker: subscriber connection lost; publications may be missed until it is back');
    };
    if (o.subscriber.topology === 'cluster') {
      const topology = this.sub as Cluster;
      this.cluster = new ClusterSubscriber({
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
      this.ready = this.cluster.start();
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
    this.ready = this.sub.subscribe(this.keys.control()).then(() => undefined);
  }

  /**
   * A pub/sub message. Redis is trusted, but a message that is not what a node writes (a bug,
   * a compromised or foreign node) is ignored with a rate-limited warning: it must never
   * throw out of ioredis' event handler (that would end the process).
   */
  private onMessage(channel: string, message: string): void {
    try {
      if (channel === this.keys.control()) {
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

  async publishControl(msg: ControlMessage): Promise<void> {
    await this.pub.publish(this.keys.control(), JSON.stringify(msg));
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
