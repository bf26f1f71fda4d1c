import type { FrameId, Publication, StreamPosition } from '@switchboard/protocol';
import { UNWRITTEN, idempotencyKeyOf, publicationBytes, readUnwritten, sinceRecoverable, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';
import { newEpoch } from './memory-history-store.ts';
import { SingleFlight } from '../postgres/batch.ts';
import { endPool, PgNames, shardOf, type PgPool } from '../postgres/connect.ts';

/** Rows fetched per round trip while a read walks towards its limit or byte bound. */
const READ_CHUNK = 128;

interface Item {
  channel: string;
  body: string;
  ts: number;
  key: string | null;
  window: number;
  notify: string | null;
  size: number;
  minTs: number;
}

export interface PostgresHistoryStoreOptions {
  /** The store's connections (the store ends the pool on `close` when it `owns` it). */
  pool: PgPool;
  /** End the pool on `close`. Default true. */
  owns?: boolean;
  /**
   * Notify the broker's channels as publications are stored (`appendAndPublish`), in the
   * same transaction. Give the `PgNames` of the node's `PostgresBroker` (same database and
   * schema); absent: the store does not publish.
   */
  publish?: PgNames;
  /** How often expired idempotency keys and claims are deleted (ms). Default 60 s; 0: never. */
  sweepIntervalMs?: number;
  now?: () => number;
}

interface StreamRow { epoch: string; top: string; first: string }
interface PubRow { offset: string; body: string }

/**
 * History in PostgreSQL, shared by every node of a cluster: one row per stream (epoch and
 * latest offset), one per retained publication, one per idempotency key and claim. Appends
 * are group-committed (`SingleFlight`: every append waiting when a batch leaves goes in one
 * `sb_history_append` call, see `HISTORY_SCHEMA`), so offsets follow call order on a node and
 * commit order across nodes. An append resolves once its transaction committed. With
 * `publish`, the stored publication is notified to the broker in that transaction
 * (`appendAndPublish`): nodes receive a channel's publications in offset order.
 * Reads never write: retention is applied by the query (what is past `size` or `ttl` is
 * not returned) and by the next append (which deletes it).
 */
export class PostgresHistoryStore implements HistoryStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly names: PgNames | undefined;
  private readonly now: () => number;
  private readonly batches: SingleFlight<Item, AppendResult>;
  private readonly timer: NodeJS.Timeout | undefined;
  readonly appendAndPublish?: (channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions) => Promise<AppendResult>;

  constructor(o: PostgresHistoryStoreOptions) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.names = o.publish;
    this.now = o.now ?? Date.now;
    this.batches = new SingleFlight((items) => this.store(items));
    if (o.publish) this.appendAndPublish = (channel, pub, opts) => this.add(channel, pub, opts, true);
    const every = o.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.sweep().catch(() => { /* retried next interval */ }), every);
      this.timer.unref();
    }
  }

  append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    return this.add(channel, pub, o, false);
  }

  private add(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions, publish: boolean): Promise<AppendResult> {
    const { offset: _o, epoch: _e, ...rest } = pub as Publication;
    const now = this.now();
    return this.batches.add({
      channel,
      body: JSON.stringify({ ...rest, channel }),
      ts: pub.ts ?? now,
      key: o.idempotencyKey === undefined ? null : idempotencyKeyOf(o.idempotencyKey, o.publisher),
      window: Math.max(1, Math.round(o.dedupWindowMs)),
      notify: publish && this.names ? this.names.shard(shardOf(channel)) : null,
      size: o.size,
      minTs: now - o.ttlMs,
    });
  }

  private async store(items: Item[]): Promise<AppendResult[]> {
    const col = <K extends keyof Item>(k: K) => items.map((it) => it[k]);
    const { rows } = await this.pool.query<{ r_epoch: string; r_offset: string; r_duplicate: boolean }>(
      'SELECT r_epoch, r_offset, r_duplicate FROM sb_history_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      [col('channel'), col('body'), col('ts'), col('key'), col('window'), col('notify'), col('size'), col('minTs'), items.map(() => newEpoch()), this.now()],
    );
    if (rows.length !== items.length) throw new Error(`postgres history: ${rows.length} results for ${items.length} appends`);
    return rows.map((r) => ({ epoch: r.r_epoch, offset: Number(r.r_offset), duplicate: r.r_duplicate }));
  }

  /** The stream's position and its first retained offset; undefined when never written. */
  private async stream(channel: string, retention: HistoryOptions): Promise<{ position: StreamPosition; first: number } | undefined> {
    const { rows } = await this.pool.query<StreamRow>(
      `SELECT s.epoch, s.top, coalesce(
         (SELECT p."offset" FROM sb_history_pubs p
           WHERE p.channel = s.channel AND p."offset" >= s.top - $2 + 1 AND p.ts >= $3
           ORDER BY p."offset" LIMIT 1),
         s.top + 1) AS first
       FROM sb_history_streams s WHERE s.channel = $1`,
      [channel, retention.size, this.now() - retention.ttlMs],
    );
    const r = rows[0];
    return r && { position: { epoch: r.epoch, offset: Number(r.top) }, first: Number(r.first) };
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const s = await this.stream(channel, o.retention);
    if (!s) return readUnwritten(o);
    const { position: pos, first } = s;
    const since = o.since;
    if (since && !sinceRecoverable(since, pos, first)) return { position: pos, publications: [], recoverable: false, more: false };
    const limit = Math.max(0, Math.floor(o.limit));
    if (limit === 0) return { position: pos, publications: [], recoverable: true, more: false };
    const maxBytes = o.maxBytes ?? Infinity;
    const publications: Publication[] = [];
    let bytes = 0;
    let more = false;
    // Forward: offsets in (after, top]; reverse: [first, before). Walked in chunks, stopping at the bounds.
    let after = Math.max(since ? since.offset : 0, first - 1);
    let before = since ? since.offset : pos.offset + 1;
    walk: for (;;) {
      const want = Math.min(READ_CHUNK, limit - publications.length + 1);
      const { rows } = o.reverse
        ? await this.pool.query<PubRow>('SELECT "offset", body FROM sb_history_pubs WHERE channel = $1 AND "offset" < $2 AND "offset" >= $3 ORDER BY "offset" DESC LIMIT $4', [channel, before, first, want])
        : await this.pool.query<PubRow>('SELECT "offset", body FROM sb_history_pubs WHERE channel = $1 AND "offset" > $2 AND "offset" <= $3 ORDER BY "offset" LIMIT $4', [channel, after, pos.offset, want]);
      for (const r of rows) {
        if (publications.length === limit) {
          more = true;
          break walk;
        }
        const offset = Number(r.offset);
        // Forward offsets must follow on without a hole: one means appends trimmed the stream
        // while this read walked it. At the start, `since` is no longer recoverable; further
        // on, the read stops there and the next page (from the last one returned) says so.
        if (!o.reverse && offset !== after + 1 && (since || publications.length > 0)) {
          if (publications.length === 0) return { position: pos, publications: [], recoverable: false, more: false, ...(maxBytes !== Infinity ? { bytes: 0 } : {}) };
          more = true;
          break walk;
        }
        const out = { ...(JSON.parse(r.body) as Publication), channel, offset, epoch: pos.epoch };
        if (maxBytes !== Infinity) {
          const size = publicationBytes(out);
          if (publications.length > 0 && bytes + size > maxBytes) {
            more = true;
            break walk;
          }
          bytes += size;
        }
        publications.push(out);
        after = before = out.offset;
      }
      if (rows.length < want) break;
    }
    return { position: pos, publications, recoverable: true, more, ...(maxBytes !== Infinity ? { bytes } : {}) };
  }

  async position(channel: string): Promise<StreamPosition> {
    const { rows } = await this.pool.query<{ epoch: string; top: string }>('SELECT epoch, top FROM sb_history_streams WHERE channel = $1', [channel]);
    const r = rows[0];
    return r ? { epoch: r.epoch, offset: Number(r.top) } : { ...UNWRITTEN };
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    const now = this.now();
    const r = await this.pool.query(
      `INSERT INTO sb_history_claims AS c (channel, key, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (channel, key) DO UPDATE SET expires_at = excluded.expires_at WHERE c.expires_at <= $4`,
      [channel, idempotencyKeyOf(key, publisher), now + Math.max(1, Math.round(windowMs)), now],
    );
    return r.rowCount === 1;
  }

  async remove(channel: string): Promise<void> {
    // One statement: atomic, and it waits for an append of the channel in flight (its row lock).
    await this.pool.query(
      `WITH s AS (DELETE FROM sb_history_streams WHERE channel = $1), p AS (DELETE FROM sb_history_pubs WHERE channel = $1)
       DELETE FROM sb_history_keys WHERE channel = $1`,
      [channel],
    );
  }

  /** Deletes expired idempotency keys and claims (a bounded number per call). */
  async sweep(): Promise<void> {
    const now = this.now();
    await this.pool.query('DELETE FROM sb_history_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM sb_history_keys WHERE expires_at <= $1 LIMIT 10000))', [now]);
    await this.pool.query('DELETE FROM sb_history_claims WHERE ctid = ANY (ARRAY(SELECT ctid FROM sb_history_claims WHERE expires_at <= $1 LIMIT 10000))', [now]);
  }

  /** Waits for the appends already made, then stops the sweep and (when it owns it) ends the pool. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (!this.batches.idle) await new Promise((r) => setTimeout(r, 5));
    if (this.owns) await endPool(this.pool);
  }
}
