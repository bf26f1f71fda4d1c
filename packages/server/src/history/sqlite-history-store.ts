import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { FrameId, Publication, StreamPosition } from '@switchboard/protocol';
import { UNWRITTEN, idempotencyKeyOf, publicationBytes, readUnwritten, sinceRecoverable, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';
import { newEpoch } from './memory-history-store.ts';
import { migrate, transaction } from '../sqlite/database.ts';

/** Append-only schema steps of the `history` component (see `migrate`). */
const SCHEMA = [
  `CREATE TABLE history_streams (
     channel TEXT PRIMARY KEY,
     epoch   TEXT NOT NULL,
     top     INTEGER NOT NULL          -- latest offset given out (0: none yet)
   ) WITHOUT ROWID;
   CREATE TABLE history_pubs (
     channel TEXT NOT NULL,
     "offset" INTEGER NOT NULL,
     ts      INTEGER NOT NULL,
     data    TEXT,                     -- JSON
     sender  TEXT,
     pub_id  TEXT,                     -- JSON (keeps numbers and strings apart)
     PRIMARY KEY (channel, "offset")
   ) WITHOUT ROWID;
   CREATE TABLE history_keys (
     channel TEXT NOT NULL,
     key     TEXT NOT NULL,
     "offset" INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (channel, key)
   ) WITHOUT ROWID;
   CREATE INDEX history_keys_expiry ON history_keys (expires_at);
   CREATE TABLE history_claims (
     channel TEXT NOT NULL,
     key     TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (channel, key)
   ) WITHOUT ROWID;
   CREATE INDEX history_claims_expiry ON history_claims (expires_at);`,
  // Publication tags (JSON), matched by subscribers' filters.
  `ALTER TABLE history_pubs ADD COLUMN tags TEXT;`,
];

interface PubRow { offset: number; ts: number; data: string | null; sender: string | null; pub_id: string | null; tags: string | null }
interface StreamRow { epoch: string; top: number }
interface PendingAppend {
  channel: string; ts: number; data: string | null; from: string | null; id: string | null; tags: string | null; key: string | undefined;
  o: AppendOptions; now: number; resolve: (r: AppendResult) => void; reject: (err: unknown) => void;
}

export interface SqliteHistoryStoreOptions {
  /** The shared database from `openSqlite`; the store does not close it. */
  db: DatabaseSync;
  /** Clock for retention and dedup windows (tests). */
  now?: () => number;
  /** How often expired idempotency keys are deleted (ms). Default 60 s; 0 disables the timer. */
  sweepIntervalMs?: number;
}

/**
 * History in the embedded SQLite database: survives restarts and `kill -9` (an `append`
 * resolves after its transaction committed to the WAL). Epochs, offsets, publications,
 * idempotency keys and claims are all persisted, so a restarted gateway keeps its streams
 * (same epochs) and its dedup window.
 *
 * One process owns the database file. Appends are group-committed once per event-loop turn
 * and resolve in call order; reads run synchronously and see what is committed.
 */
export class SqliteHistoryStore implements HistoryStore {
  private readonly db: DatabaseSync;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private pending: PendingAppend[] = [];
  private readonly q: Record<
    'selStream' | 'insStream' | 'updStream' | 'selKey' | 'upsKey' | 'insPub' | 'trim'
    | 'first' | 'forward' | 'backward' | 'claim' | 'sweepKeys' | 'sweepClaims' | 'delStream' | 'delPubs' | 'delKeys',
    StatementSync
  >;

  constructor(o: SqliteHistoryStoreOptions) {
    this.db = o.db;
    this.now = o.now ?? Date.now;
    migrate(this.db, 'history', SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.q = {
      selStream: p('SELECT epoch, top FROM history_streams WHERE channel = ?'),
      insStream: p('INSERT INTO history_streams (channel, epoch, top) VALUES (?, ?, ?)'),
      updStream: p('UPDATE history_streams SET top = ? WHERE channel = ?'),
      selKey: p('SELECT "offset", expires_at FROM history_keys WHERE channel = ? AND key = ?'),
      upsKey: p('INSERT INTO history_keys (channel, key, "offset", expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (channel, key) DO UPDATE SET "offset" = excluded."offset", expires_at = excluded.expires_at'),
      insPub: p('INSERT INTO history_pubs (channel, "offset", ts, data, sender, pub_id, tags) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      // Drops the oldest publications beyond `size` and those older than the ttl (a prefix:
      // everything before the first one still young enough). Stops scanning at that one.
      trim: p(`DELETE FROM history_pubs WHERE channel = ?1 AND "offset" < coalesce(
                 (SELECT "offset" FROM history_pubs WHERE channel = ?1 AND "offset" >= ?2 AND ts >= ?3 ORDER BY "offset" LIMIT 1), ?4)`),
      first: p('SELECT "offset" FROM history_pubs WHERE channel = ? ORDER BY "offset" LIMIT 1'),
      forward: p('SELECT "offset", ts, data, sender, pub_id, tags FROM history_pubs WHERE channel = ? AND "offset" > ? ORDER BY "offset" LIMIT ?'),
      backward: p('SELECT "offset", ts, data, sender, pub_id, tags FROM history_pubs WHERE channel = ? AND "offset" < ? ORDER BY "offset" DESC LIMIT ?'),
      // Inserts the claim, or renews an expired one; changes = 0 means it is still live.
      claim: p(`INSERT INTO history_claims (channel, key, expires_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (channel, key) DO UPDATE SET expires_at = excluded.expires_at WHERE history_claims.expires_at <= ?4`),
      sweepKeys: p('DELETE FROM history_keys WHERE expires_at <= ?'),
      sweepClaims: p('DELETE FROM history_claims WHERE expires_at <= ?'),
      delStream: p('DELETE FROM history_streams WHERE channel = ?'),
      delPubs: p('DELETE FROM history_pubs WHERE channel = ?'),
      delKeys: p('DELETE FROM history_keys WHERE channel = ?'),
    };
    this.sweep();
    const every = o.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  /** Deletes expired idempotency keys and claims. */
  sweep(): void {
    const now = this.now();
    this.q.sweepKeys.run(now);
    this.q.sweepClaims.run(now);
  }

  /**
   * Queues the publication; every append queued in one event-loop turn is committed in one
   * transaction (group commit: one WAL write for the lot), in call order, and each promise
   * resolves after that commit.
   */
  append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      const data = pub.data === undefined ? null : JSON.stringify(pub.data);
      const id = pub.id === undefined ? null : JSON.stringify(pub.id);
      const key = o.idempotencyKey === undefined ? undefined : idempotencyKeyOf(o.idempotencyKey, o.publisher);
      this.pending.push({ channel, ts: pub.ts, data, from: pub.from ?? null, id, tags: pub.tags !== undefined ? JSON.stringify(pub.tags) : null, key, o, now: this.now(), resolve, reject });
      if (this.pending.length === 1) setImmediate(this.flush);
    });
  }

  /** Commits every queued append (see `append`). */
  private readonly flush = (): void => {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let results: AppendResult[];
    try {
      results = transaction(this.db, () => batch.map((a) => this.appendOne(a)));
    } catch (err) {
      for (const a of batch) a.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
  };

  private appendOne(a: PendingAppend): AppendResult {
    const q = this.q;
    const s = q.selStream.get(a.channel) as StreamRow | undefined;
    if (s && a.key !== undefined) {
      const seen = q.selKey.get(a.channel, a.key) as { offset: number; expires_at: number } | undefined;
      if (seen && seen.expires_at > a.now) return { epoch: s.epoch, offset: seen.offset, duplicate: true };
    }
    let epoch: string;
    let offset: number;
    if (s) {
      epoch = s.epoch;
      offset = s.top + 1;
      q.updStream.run(offset, a.channel);
    } else {
      epoch = newEpoch();
      offset = 1;
      q.insStream.run(a.channel, epoch, offset);
    }
    q.insPub.run(a.channel, offset, a.ts, a.data, a.from, a.id, a.tags);
    if (a.key !== undefined) q.upsKey.run(a.channel, a.key, offset, a.now + a.o.dedupWindowMs);
    q.trim.run(a.channel, offset - a.o.size + 1, a.now - a.o.ttlMs, offset + 1);
    return { epoch, offset, duplicate: false };
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const q = this.q;
    const pos = this.existing(channel);
    if (!pos) return readUnwritten(o); // never written: a read stores nothing
    q.trim.run(channel, pos.offset - o.retention.size + 1, this.now() - o.retention.ttlMs, pos.offset + 1);
    const firstRow = q.first.get(channel) as { offset: number } | undefined;
    const first = firstRow ? firstRow.offset : pos.offset + 1;
    const since = o.since;
    if (since && !sinceRecoverable(since, pos, first)) {
      return { position: pos, publications: [], recoverable: false, more: false };
    }
    const limit = Math.max(0, Math.floor(o.limit));
    if (limit === 0) return { position: pos, publications: [], recoverable: true, more: false };
    // One row past `limit` tells whether more remain; rows are stepped through one at a time
    // and the walk stops at the byte bound, so a read never loads what it does not return.
    const rows = (o.reverse
      ? q.backward.iterate(channel, since ? since.offset : pos.offset + 1, limit + 1)
      : q.forward.iterate(channel, since ? since.offset : 0, limit + 1)) as Iterator<PubRow> & Iterable<PubRow>;
    const maxBytes = o.maxBytes ?? Infinity;
    const publications: Publication[] = [];
    let bytes = 0;
    let more = false;
    for (const r of rows) {
      if (publications.length === limit) {
        more = true;
        break;
      }
      const out: Publication = { channel, data: r.data === null ? undefined : JSON.parse(r.data), offset: r.offset, epoch: pos.epoch, ts: r.ts };
      if (r.sender !== null) out.from = r.sender;
      if (r.pub_id !== null) out.id = JSON.parse(r.pub_id);
      if (r.tags !== null) out.tags = JSON.parse(r.tags);
      if (maxBytes !== Infinity) {
        // `data` is stored as JSON.stringify wrote it, which is what it encodes to again:
        // measure the rest of the publication and add the stored text (no second pass over data).
        const size = r.data === null ? publicationBytes(out) : publicationBytes({ ...out, data: null }) - 4 + Buffer.byteLength(r.data);
        if (publications.length > 0 && bytes + size > maxBytes) {
          more = true;
          break;
        }
        bytes += size;
      }
      publications.push(out);
    }
    return { position: pos, publications, recoverable: true, more, ...(maxBytes !== Infinity ? { bytes } : {}) };
  }

  async position(channel: string): Promise<StreamPosition> {
    return this.existing(channel) ?? { ...UNWRITTEN };
  }

  /** The stream's position; undefined when it was never written (nothing is created). */
  private existing(channel: string): StreamPosition | undefined {
    const s = this.q.selStream.get(channel) as StreamRow | undefined;
    return s ? { epoch: s.epoch, offset: s.top } : undefined;
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    const now = this.now();
    return Number(this.q.claim.run(channel, idempotencyKeyOf(key, publisher), now + windowMs, now).changes) === 1;
  }

  async remove(channel: string): Promise<void> {
    transaction(this.db, () => {
      this.q.delStream.run(channel);
      this.q.delPubs.run(channel);
      this.q.delKeys.run(channel);
    });
  }

  /** Commits what is still queued, then stops the sweep timer (the database stays open). */
  async close(): Promise<void> {
    this.flush();
    if (this.timer) clearInterval(this.timer);
  }
}
