import type { Redis } from 'ioredis';
import { UNWRITTEN_EPOCH, type FrameId, type Publication, type StreamPosition } from '@switchboard/protocol';
import { idempotencyKeyOf, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';
import { newEpoch } from './memory-history-store.ts';
import { APPEND, CLAIM, POSITION, READ } from './redis-history-scripts.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisConnection } from '../redis/connect.ts';
import { publishCommand } from '../broker/redis-broker.ts';

export interface RedisHistoryStoreOptions {
  connection: RedisConnection;
  keys?: RedisKeys;
  /**
   * Publish each appended publication to the broker's pub/sub channel inside the storing
   * script (`appendAndPublish`). Set it only when the node's broker is a `RedisBroker` on the
   * same Redis and key prefix. Default false.
   */
  publish?: boolean;
  /** How long a stream's epoch and offset outlive its last use (ms). Default 7 days. */
  metaTtlMs?: number;
  now?: () => number;
}

interface Scripts {
  sbAppend(meta: string, stream: string, idKey: string, pubsub: string, ...argv: Array<string | number>): Promise<[string, number, number]>;
  sbRead(meta: string, stream: string, ...argv: Array<string | number>): Promise<[string, number, number, ...string[]]>;
  sbPosition(meta: string, ...argv: Array<string | number>): Promise<[string, number]>;
  sbClaim(key: string, now: number, windowMs: number): Promise<number>;
}

/**
 * History in Redis Streams, shared by every node of a cluster.
 *
 * Per channel: a hash with the epoch and last offset, a stream of retained publications
 * (entry id `<offset>-0`, trimmed with MAXLEN to `size` and from the head by age), and one
 * expiring string per idempotency key. Each append is one Lua script: offset, entry,
 * trimming, idempotency key and (with `publish`) the pub/sub message happen atomically, so
 * offsets have no holes and nodes receive publications in offset order.
 * A stream whose meta expired or was lost (Redis restarted without persistence) starts a
 * new epoch, so clients see `recovered: false` instead of wrong data.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly redis: Redis & Scripts;
  private readonly keys: RedisKeys;
  private readonly metaTtlMs: number;
  private readonly now: () => number;
  /** Present only with the `publish` option: stores and publishes in one script. */
  readonly appendAndPublish?: (channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions) => Promise<AppendResult>;

  constructor(o: RedisHistoryStoreOptions) {
    this.redis = o.connection.redis as Redis & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.metaTtlMs = o.metaTtlMs ?? 7 * 86_400_000;
    this.now = o.now ?? Date.now;
    this.redis.defineCommand('sbAppend', { numberOfKeys: 4, lua: APPEND });
    this.redis.defineCommand('sbRead', { numberOfKeys: 2, lua: READ });
    this.redis.defineCommand('sbPosition', { numberOfKeys: 1, lua: POSITION });
    this.redis.defineCommand('sbClaim', { numberOfKeys: 1, lua: CLAIM });
    if (o.publish) {
      const command = publishCommand(o.connection);
      this.appendAndPublish = (channel, pub, opts) => this.store(channel, pub, opts, command);
    }
  }

  append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    return this.store(channel, pub, o, '');
  }

  private async store(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions, publish: string): Promise<AppendResult> {
    const { offset: _o, epoch: _e, ...rest } = pub as Publication;
    const json = JSON.stringify({ ...rest, channel });
    const key = o.idempotencyKey !== undefined ? idempotencyKeyOf(o.idempotencyKey, o.publisher) : '';
    const window = key ? Math.max(1, Math.round(o.dedupWindowMs)) : 0;
    const now = this.now();
    const k = this.keys;
    const [epoch, offset, dup] = await this.redis.sbAppend(
      k.meta(channel), k.stream(channel), k.idempotency(channel, key), k.pubsub(channel),
      json, newEpoch(), o.size, now - o.ttlMs, Math.max(1, Math.ceil(o.ttlMs)), this.metaTtl(o.ttlMs), window, publish, pub.ts ?? now, now,
    );
    return { epoch, offset: Number(offset), duplicate: Number(dup) === 1 };
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const since = o.since;
    const [epoch, offset, recoverable, ...pubs] = await this.redis.sbRead(
      this.keys.meta(channel), this.keys.stream(channel),
      UNWRITTEN_EPOCH, this.now() - o.retention.ttlMs, this.metaTtl(o.retention.ttlMs),
      since ? since.epoch : '', since ? since.offset : 0, Math.max(0, o.limit), o.reverse ? '1' : '0',
    );
    return {
      position: { epoch, offset: Number(offset) },
      publications: pubs.map((p) => JSON.parse(p) as Publication),
      recoverable: Number(recoverable) === 1,
    };
  }

  async position(channel: string): Promise<StreamPosition> {
    const [epoch, offset] = await this.redis.sbPosition(this.keys.meta(channel), UNWRITTEN_EPOCH);
    return { epoch, offset: Number(offset) };
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    return (await this.redis.sbClaim(this.keys.claim(channel, idempotencyKeyOf(key, publisher)), this.now(), Math.max(1, Math.round(windowMs)))) === 1;
  }

  async remove(channel: string): Promise<void> {
    await this.redis.del(this.keys.meta(channel), this.keys.stream(channel));
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }

  private metaTtl(ttlMs: number): number {
    return Math.max(this.metaTtlMs, Math.ceil(ttlMs));
  }
}
