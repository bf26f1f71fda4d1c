import { UNWRITTEN_EPOCH, type FrameId, type Publication, type StreamPosition } from '@switchboard/protocol';
import { idempotencyKeyOf, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';
import { newEpoch } from './memory-history-store.ts';
import { APPEND, APPEND_MANY, CLAIM, POSITION, READ } from './redis-history-scripts.ts';
import { AppendBatcher, type AppendGroup, type AppendOutcome } from './redis-append-batch.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import { publishCommand } from '../broker/redis-broker.ts';

/** Most publications of one channel stored by one script call. */
const MAX_BATCH = 64;

/** Synchronous replication of publications (`WAIT`). */
export interface ReplicationOptions {
  /**
   * Acknowledge an append (and answer a duplicate) only once this many replicas confirm
   * every write made before it (`WAIT n timeout`, sent right behind the script on the same
   * connection, so on a Redis Cluster it reaches the shard that ran it). Default 0: no wait.
   */
  waitReplicas?: number;
  /** How long to wait for them (ms); fewer by then rejects with `ReplicationError`. Default 1000. */
  waitTimeoutMs?: number;
  /**
   * Called whenever fewer replicas than required confirmed a write, or a write timed out
   * (behind Sentinel: ask the sentinels whether this primary was replaced, `SentinelFollower`;
   * a primary cut off by a partition answers nothing, and its connection never breaks).
   */
  onShortfall?: () => void;
}

/**
 * Fewer replicas than required confirmed a write in time. The write may exist on the primary
 * (and be seen by subscribers) but is not acknowledged: the caller answers a temporary error
 * and a retry with the same idempotency key never stores it twice.
 */
export class ReplicationError extends Error {
  readonly confirmed: number;
  readonly required: number;
  constructor(confirmed: number, required: number) {
    super(`only ${confirmed} of ${required} Redis replicas confirmed the write in time`);
    this.confirmed = confirmed;
    this.required = required;
  }
}

export interface RedisHistoryStoreOptions extends ReplicationOptions {
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
  /**
   * Gather the appends of one event-loop turn and store each channel's in one script call
   * (`AppendBatcher`). Default true; false runs one script per publication at once.
   */
  batch?: boolean;
  now?: () => number;
}

/** The pipeline calls `replicated` makes (the store's scripts and WAIT). */
interface Pipeline {
  sbAppend(...args: Array<string | number>): unknown;
  [sbAppendMany: `sbAppend${number}`]: (...args: Array<string | number>) => unknown;
  sbClaim(...args: Array<string | number>): unknown;
  wait(replicas: number, timeoutMs: number): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

interface Scripts {
  sbAppend(meta: string, stream: string, idKey: string, pubsub: string, ...argv: Array<string | number>): Promise<[string, number, number]>;
  [sbAppendMany: `sbAppend${number}`]: (...args: Array<string | number>) => Promise<[string, ...Array<number | string>]>;
  sbRead(meta: string, stream: string, ...argv: Array<string | number>): Promise<[string, number, number, number, ...string[]]>;
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
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly metaTtlMs: number;
  private readonly now: () => number;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly onShortfall: (() => void) | undefined;
  private readonly publishCommand: string;
  private readonly batcher: AppendBatcher | undefined;
  /** On a Redis Cluster a pipeline must stay on one shard. */
  private readonly cluster: boolean;
  /** Present only with the `publish` option: stores and publishes in one script. */
  readonly appendAndPublish?: (channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions) => Promise<AppendResult>;

  constructor(o: RedisHistoryStoreOptions) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.metaTtlMs = o.metaTtlMs ?? 7 * 86_400_000;
    this.now = o.now ?? Date.now;
    this.waitReplicas = o.waitReplicas ?? 0;
    this.waitTimeoutMs = o.waitTimeoutMs ?? 1000;
    this.onShortfall = o.onShortfall;
    this.redis.defineCommand('sbAppend', { numberOfKeys: 4, lua: APPEND });
    // `APPEND_MANY` for up to n publications is `sbAppend<n>`, n a power of two: a fixed key
    // count per command, so its first argument is a key and auto-pipelining on a Redis
    // Cluster routes it by that key's slot (all its keys share the channel's slot). Few of
    // them: every pipeline copies every defined command. One script in Redis (one SHA).
    for (let n = 1; n <= MAX_BATCH; n *= 2) this.redis.defineCommand(`sbAppend${n}`, { numberOfKeys: 3 + n, lua: APPEND_MANY });
    this.redis.defineCommand('sbRead', { numberOfKeys: 2, lua: READ });
    this.redis.defineCommand('sbPosition', { numberOfKeys: 1, lua: POSITION });
    this.redis.defineCommand('sbClaim', { numberOfKeys: 1, lua: CLAIM });
    this.publishCommand = o.publish ? publishCommand(o.connection) : '';
    this.cluster = o.connection.topology === 'cluster';
    this.batcher = o.batch === false ? undefined : new AppendBatcher((groups) => this.storeMany(groups), MAX_BATCH);
    if (o.publish) this.appendAndPublish = (channel, pub, opts) => this.store(channel, pub, opts, true);
  }

  append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    return this.store(channel, pub, o, false);
  }

  private store(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions, publish: boolean): Promise<AppendResult> {
    const stored = this.storeOnce(channel, pub, o, publish);
    if (!this.onShortfall) return stored;
    return stored.catch((err: unknown) => {
      if (err instanceof Error && err.message === 'Command timed out') this.onShortfall?.();
      throw err;
    });
  }

  private async storeOnce(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions, publish: boolean): Promise<AppendResult> {
    const { offset: _o, epoch: _e, ...rest } = pub as Publication;
    const json = JSON.stringify({ ...rest, channel });
    const key = o.idempotencyKey !== undefined ? idempotencyKeyOf(o.idempotencyKey, o.publisher) : '';
    const window = key ? Math.max(1, Math.round(o.dedupWindowMs)) : 0;
    const idKey = this.keys.idempotency(channel, key);
    if (this.batcher) return this.batcher.add(channel, o, { json, idKey, window, ts: pub.ts ?? this.now(), publish });
    const now = this.now();
    const k = this.keys;
    const args = [
      k.meta(channel), k.stream(channel), idKey, k.pubsub(channel),
      json, newEpoch(), o.size, now - o.ttlMs, Math.max(1, Math.ceil(o.ttlMs)), this.metaTtl(o.ttlMs), window, publish ? this.publishCommand : '', pub.ts ?? now, now,
    ] as const;
    const [epoch, offset, dup] = this.waitReplicas > 0
      ? await this.replicated<[string, number, number]>((p) => p.sbAppend(...args))
      : await this.redis.sbAppend(...args);
    return { epoch, offset: Number(offset), duplicate: Number(dup) === 1 };
  }

  /**
   * One `APPEND_MANY` call per batch (`sbAppend<n>`, see the constructor). On one Redis (also
   * behind Sentinel) they leave at once in one explicit pipeline, with one `WAIT` behind them
   * all; on a Redis Cluster each goes to its channel's shard (auto-pipelined per shard, its
   * own `WAIT` behind it).
   */
  private storeMany(groups: AppendGroup[]): Array<Promise<AppendOutcome[]>> {
    const now = this.now();
    const k = this.keys;
    const calls = groups.map((g) => {
      const args: Array<string | number> = [k.meta(g.channel), k.stream(g.channel), k.pubsub(g.channel)];
      const size = 2 ** Math.ceil(Math.log2(g.items.length));
      for (const it of g.items) args.push(it.idKey);
      // Unused key places (up to the command's key count) hold the meta key: same slot, never read.
      for (let i = g.items.length; i < size; i++) args.push(args[0]!);
      args.push(newEpoch(), g.size, now - g.ttlMs, Math.max(1, Math.ceil(g.ttlMs)), this.metaTtl(g.ttlMs), this.publishCommand, now);
      for (const it of g.items) args.push(it.json, it.window, it.ts, it.publish ? '1' : '0');
      return { command: `sbAppend${size}` as const, args, n: g.items.length };
    });
    // A duplicate stored in an earlier epoch of the stream's branch answers that epoch as its flag.
    const parse = (n: number, [epoch, ...rest]: [string, ...Array<number | string>]): AppendOutcome[] =>
      Array.from({ length: n }, (_, i) => {
        const flag = rest[2 * i + 1];
        return typeof flag === 'string' ? { epoch: flag, offset: Number(rest[2 * i]), duplicate: true } : { epoch, offset: Number(rest[2 * i]), duplicate: Number(flag) === 1 };
      });
    if (this.cluster) {
      return calls.map(async ({ command, args, n }) => parse(n, this.waitReplicas > 0
        ? await this.replicated<[string, ...Array<number | string>]>((p) => p[command](...args))
        : await this.redis[command](...args)));
    }
    const p = this.redis.pipeline() as unknown as Pipeline;
    for (const { command, args } of calls) p[command](...args);
    if (this.waitReplicas > 0) p.wait(this.waitReplicas, this.waitTimeoutMs);
    const done = p.exec().then((results) => {
      const all = results ?? [];
      const [waitErr, confirmed] = this.waitReplicas > 0 ? all[calls.length] ?? [new Error('pipeline aborted'), 0] : [null, 0];
      if (waitErr) throw waitErr;
      if (this.waitReplicas > 0 && Number(confirmed) < this.waitReplicas) throw this.shortfall(Number(confirmed));
      return all;
    });
    return calls.map(async ({ n }, i) => {
      const [err, value] = (await done)[i] ?? [new Error('pipeline aborted'), undefined];
      if (err) throw err;
      return parse(n, value as [string, ...Array<number | string>]);
    });
  }

  /**
   * Runs one write and `WAIT` behind it in one pipeline (one shard on a Redis Cluster: the
   * pipeline follows the write's keys). Rejects with `ReplicationError` when too few replicas
   * confirmed, so nothing unreplicated is ever acknowledged.
   */
  private async replicated<T>(write: (p: Pipeline) => unknown): Promise<T> {
    const p = this.redis.pipeline() as unknown as Pipeline;
    write(p);
    p.wait(this.waitReplicas, this.waitTimeoutMs);
    const results = (await p.exec()) ?? [];
    const [[writeErr, value] = [new Error('pipeline aborted'), undefined], [waitErr, confirmed] = [new Error('pipeline aborted'), 0]] = results;
    if (writeErr) throw writeErr;
    if (waitErr) throw waitErr;
    if (Number(confirmed) < this.waitReplicas) throw this.shortfall(Number(confirmed));
    return value as T;
  }

  private shortfall(confirmed: number): ReplicationError {
    this.onShortfall?.();
    return new ReplicationError(confirmed, this.waitReplicas);
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const since = o.since;
    const [epoch, offset, recoverable, more, ...pubs] = await this.redis.sbRead(
      this.keys.meta(channel), this.keys.stream(channel),
      UNWRITTEN_EPOCH, this.now() - o.retention.ttlMs, this.metaTtl(o.retention.ttlMs),
      since ? since.epoch : '', since ? since.offset : 0, Math.max(0, Math.floor(o.limit)), o.reverse ? '1' : '0',
      o.maxBytes !== undefined && Number.isFinite(o.maxBytes) ? Math.max(1, Math.floor(o.maxBytes)) : 0,
    );
    let bytes = 0;
    const publications = pubs.map((p) => {
      bytes += Buffer.byteLength(p);
      return JSON.parse(p) as Publication;
    });
    return {
      position: { epoch, offset: Number(offset) },
      publications,
      recoverable: Number(recoverable) === 1,
      more: Number(more) === 1,
      ...(o.maxBytes !== undefined ? { bytes } : {}),
    };
  }

  async position(channel: string): Promise<StreamPosition> {
    const [epoch, offset] = await this.redis.sbPosition(this.keys.meta(channel), UNWRITTEN_EPOCH);
    return { epoch, offset: Number(offset) };
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    const args = [this.keys.claim(channel, idempotencyKeyOf(key, publisher)), this.now(), Math.max(1, Math.round(windowMs))] as const;
    const claimed = this.waitReplicas > 0 ? await this.replicated<number>((p) => p.sbClaim(...args)) : await this.redis.sbClaim(...args);
    return Number(claimed) === 1;
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
