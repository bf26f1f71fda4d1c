import type { HistoryOptions } from '../channels.ts';
import { UNWRITTEN_EPOCH, type FrameId, type Publication, type StreamPosition } from '@switchboard/protocol';

/**
 * An idempotency key as stores keep it: numbers and strings apart (`5` and `"5"` differ), and
 * scoped to its publisher when there is one, so one publisher's id never answers for
 * another's (`p<length>:<publisher>|…`, unambiguous whatever the publisher and id contain).
 */
export function idempotencyKeyOf(k: FrameId, publisher?: string): string {
  const id = typeof k === 'number' ? `n:${k}` : `s:${k}`;
  return publisher === undefined ? id : `p${publisher.length}:${publisher}|${id}`;
}

export type { HistoryOptions } from '../channels.ts';

/** What `append` answers. */
export interface AppendResult extends StreamPosition {
  /** True when `idempotencyKey` was seen within the window: nothing was stored, the first offset is returned. */
  duplicate: boolean;
}

/** What `append` needs besides the publication: retention and idempotency. */
export interface AppendOptions extends HistoryOptions {
  /** The publisher's `id`: a key seen on this channel (from this `publisher`) within `dedupWindowMs` is not stored again. */
  idempotencyKey?: FrameId;
  /**
   * Who published (the node passes `u:<user>` for clients, `api` for the server API): keys
   * are remembered per publisher, so two publishers using the same id never collide.
   */
  publisher?: string;
  /** How long a key is remembered (ms). */
  dedupWindowMs: number;
}

export interface ReadOptions {
  /** Exclusive lower bound when reading forward; exclusive upper bound when `reverse`. */
  since?: StreamPosition;
  /** At most this many publications (0: none, only the position). */
  limit: number;
  /** Newest first. */
  reverse?: boolean;
  /**
   * Stop before the publication that would take the read past this many bytes (each
   * publication counted as its JSON: `publicationBytes`). The first is always returned, however
   * large, so a reader paging with `since` always moves on. Absent: no byte bound.
   * Stores stop reading there (they do not load `limit` publications and cut afterwards).
   */
  maxBytes?: number;
}

/** What a publication counts against `ReadOptions.maxBytes`: the bytes of its JSON. */
export function publicationBytes(pub: Publication): number {
  return Buffer.byteLength(JSON.stringify(pub));
}

/** The position of a stream that does not exist: nothing stored, nothing created. */
export const UNWRITTEN: StreamPosition = Object.freeze({ epoch: UNWRITTEN_EPOCH, offset: 0 });

/** What a read of a stream that does not exist answers (without creating it). */
export function readUnwritten(o: ReadOptions): ReadResult {
  const recoverable = !o.since || (o.since.epoch === UNWRITTEN_EPOCH && o.since.offset === 0);
  return { position: { ...UNWRITTEN }, publications: [], recoverable, more: false };
}

/**
 * Whether `since` can be recovered in a stream at `position` whose oldest retained offset is
 * `first`: same epoch and within the retained range, or the unwritten position when the
 * stream's first publication is still retained.
 */
export function sinceRecoverable(since: StreamPosition, position: StreamPosition, first: number): boolean {
  if (since.epoch === position.epoch) return since.offset <= position.offset && since.offset >= first - 1;
  return since.epoch === UNWRITTEN_EPOCH && since.offset === 0 && first === 1;
}

export interface ReadResult {
  /** The stream's current position (its latest offset). */
  position: StreamPosition;
  publications: Publication[];
  /**
   * False when `since` cannot be honoured: another epoch, or publications after it are no
   * longer retained. `publications` is then empty and `position` tells the client where it is.
   */
  recoverable: boolean;
  /**
   * True when retained publications lie beyond the last one returned, in the read's direction
   * (newer when forward, older when `reverse`): the read was cut by `limit` or `maxBytes`.
   * Continue with `since` = the last one returned. Every bundled store sets it; a store that
   * does not (written before it existed) reads as `false`: replays then are not paged.
   */
  more?: boolean;
  /** Bytes of the publications returned (as `publicationBytes` counts them), when the read had a `maxBytes`. */
  bytes?: number;
}

/**
 * Durable per-channel streams (protocol v1 "Streams, offsets and recovery").
 *
 * Guarantees every implementation keeps (checked by `runHistoryStoreContract`):
 * - Offsets of one channel are 1, 2, 3 … with no holes, in the order `append` was called;
 *   calls for one channel resolve in call order.
 * - `append` resolves only once the publication is stored as durably as the store can.
 * - An epoch changes only when the stream was lost or reset; offsets are meaningful only
 *   together with their epoch.
 * - An `idempotencyKey` seen on the channel from the same `publisher` within `dedupWindowMs`
 *   is not stored again; another publisher's equal key is another key. Keys are remembered
 *   even for channels without history (see `claimKey`).
 * - Retention drops a prefix of the stream: the oldest beyond `size`, and every publication
 *   up to the newest one older than `ttlMs`. `since` older than what is retained is
 *   unrecoverable.
 * - Durable stores keep epochs, offsets, publications, keys and claims across restarts.
 * - Stores take their clock (`now`) from their constructor options, so windows are testable.
 *
 * The shape fits Redis Streams (XADD with MAXLEN/MINID trimming inside one script that also
 * publishes to the broker): a Redis store may append and publish atomically.
 */
export interface HistoryStore {
  /**
   * Stores a publication as the channel's next offset and trims the stream to `size`/`ttlMs`.
   * Resolves once stored; a duplicate key resolves with the first offset and stores nothing.
   */
  append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, options: AppendOptions): Promise<AppendResult>;
  /**
   * Reads retained publications. Forward (default): oldest first, offsets greater than
   * `since.offset` (from the oldest retained without `since`). `reverse`: newest first, offsets
   * smaller than `since.offset` (from the latest without `since`). Publications older than
   * `retention` are never returned. Reading a stream that was never written stores nothing
   * and answers position `{epoch: UNWRITTEN_EPOCH, offset: 0}`; `since` at that position is
   * recoverable as long as the stream's first publication (offset 1) is still retained.
   */
  read(channel: string, options: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult>;
  /** Current position without reading publications (`UNWRITTEN_EPOCH`/0 for a stream never written; stores nothing). */
  position(channel: string): Promise<StreamPosition>;
  /**
   * Idempotency for channels without history: true when `key` is new on `channel` from
   * `publisher` (and is now remembered for `windowMs`), false when it was seen within the window.
   */
  claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean>;
  /**
   * Optional: stores the publication AND hands it to the node's broker in one atomic step
   * (a Redis store does both in one Lua script), so publications reach nodes in offset
   * order and none is stored without being published. When present, the node calls it
   * instead of `append` + `Broker.publish` for channels with history. A store offers it
   * only when it publishes where the node's broker listens.
   */
  appendAndPublish?(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, options: AppendOptions): Promise<AppendResult>;
  /** Forgets a channel's stream (a new epoch begins). */
  remove(channel: string): Promise<void>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}
