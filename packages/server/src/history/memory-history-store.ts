import { randomBytes } from 'node:crypto';
import type { FrameId, Publication, StreamPosition } from '@switchboard/protocol';
import { UNWRITTEN, idempotencyKeyOf, publicationBytes, readUnwritten, sinceRecoverable, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';

interface Stream {
  epoch: string;
  offset: number;
  /** Retained publications, oldest first; `pubs[i].offset` increases by 1. */
  pubs: Publication[];
  /** idempotency key → offset and expiry; created by the first publish with an id (most streams never see one). */
  keys: Map<string, { offset: number; expiresAt: number }> | undefined;
}

/** Random bytes for epochs, fetched 256 epochs at a time (the Redis store offers one per append). */
let entropy = Buffer.alloc(0);
let used = 0;

/** A fresh random epoch (8 characters, base64url). */
export function newEpoch(): string {
  if (used + 6 > entropy.length) {
    entropy = randomBytes(6 * 256);
    used = 0;
  }
  used += 6;
  return entropy.toString('base64url', used - 6, used);
}

/**
 * History in this process's memory: fast, lost on restart (a restart begins new epochs, so
 * clients see `recovered: false` rather than wrong data).
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly streams = new Map<string, Stream>();
  private readonly claimed = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  private stream(channel: string): Stream {
    let s = this.streams.get(channel);
    if (!s) {
      s = { epoch: newEpoch(), offset: 0, pubs: [], keys: undefined };
      this.streams.set(channel, s);
    }
    return s;
  }

  private trim(s: Stream, o: HistoryOptions): void {
    const minTs = this.now() - o.ttlMs;
    let drop = Math.max(0, s.pubs.length - o.size);
    while (drop < s.pubs.length && s.pubs[drop]!.ts < minTs) drop++;
    if (drop > 0) s.pubs.splice(0, drop);
  }

  async append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    const s = this.stream(channel);
    const now = this.now();
    if (o.idempotencyKey !== undefined) {
      const k = idempotencyKeyOf(o.idempotencyKey, o.publisher);
      const keys = (s.keys ??= new Map());
      const seen = keys.get(k);
      if (seen && seen.expiresAt > now) return { epoch: s.epoch, offset: seen.offset, duplicate: true };
      sweep(keys, now, (v) => v.expiresAt);
      keys.delete(k);
      keys.set(k, { offset: s.offset + 1, expiresAt: now + o.dedupWindowMs });
    }
    s.offset += 1;
    s.pubs.push({ ...pub, channel, offset: s.offset, epoch: s.epoch });
    this.trim(s, o);
    return { epoch: s.epoch, offset: s.offset, duplicate: false };
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const s = this.streams.get(channel);
    if (!s) return readUnwritten(o);
    this.trim(s, o.retention);
    return readRetained(s.pubs, { epoch: s.epoch, offset: s.offset }, o);
  }

  async position(channel: string): Promise<StreamPosition> {
    const s = this.streams.get(channel);
    return s ? { epoch: s.epoch, offset: s.offset } : { ...UNWRITTEN };
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    const now = this.now();
    const k = `${channel}\u0000${idempotencyKeyOf(key, publisher)}`;
    const exp = this.claimed.get(k);
    if (exp !== undefined && exp > now) return false;
    sweep(this.claimed, now, (e) => e);
    this.claimed.delete(k);
    this.claimed.set(k, now + windowMs);
    return true;
  }

  async remove(channel: string): Promise<void> {
    this.streams.delete(channel);
  }

  async close(): Promise<void> {}
}

/**
 * Drops expired entries from the front of an insertion-ordered map. Entries are re-inserted
 * at the back when renewed, so with one window the front holds the oldest: the sweep stops at
 * the first live entry and costs only what it deletes.
 */
function sweep<V>(map: Map<string, V>, now: number, expiry: (v: V) => number): void {
  for (const [key, v] of map) {
    if (expiry(v) > now) return;
    map.delete(key);
  }
}

/** Bytes of each retained publication, measured once (reads count them against `maxBytes`). */
const sizes = new WeakMap<Publication, number>();

function sizeOf(pub: Publication): number {
  let n = sizes.get(pub);
  if (n === undefined) {
    n = publicationBytes(pub);
    sizes.set(pub, n);
  }
  return n;
}

/**
 * Shared read logic over retained publications (oldest first, consecutive offsets) given the
 * stream's current position: walks from `since` in the read's direction and stops at `limit`
 * or at `maxBytes` (never building more than it returns).
 */
function readRetained(pubs: readonly Publication[], position: StreamPosition, o: ReadOptions): ReadResult {
  const first = pubs.length ? pubs[0]!.offset! : position.offset + 1;
  const since = o.since;
  if (since && !sinceRecoverable(since, position, first)) return { position, publications: [], recoverable: false, more: false };
  const limit = Math.max(0, o.limit);
  const maxBytes = o.maxBytes ?? Infinity;
  const out: Publication[] = [];
  let bytes = 0;
  // Forward: indexes start .. pubs.length - 1; reverse: end - 1 down to 0.
  const step = o.reverse ? -1 : 1;
  let i = o.reverse
    ? Math.min(pubs.length, Math.max(0, (since ? since.offset : position.offset + 1) - first)) - 1
    : Math.max(0, (since ? since.offset + 1 : first) - first);
  for (; i >= 0 && i < pubs.length && out.length < limit; i += step) {
    const pub = pubs[i]!;
    if (maxBytes !== Infinity) {
      const size = sizeOf(pub);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
    }
    out.push(pub);
  }
  const more = limit > 0 && i >= 0 && i < pubs.length;
  return { position, publications: out, recoverable: true, more, ...(maxBytes !== Infinity ? { bytes } : {}) };
}
