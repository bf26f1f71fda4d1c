import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { openBucket } from '../nats/kv.ts';
import { CasBucket } from '../nats/cas-bucket.ts';
import type { FrameId, Publication, StreamPosition } from '@switchboard/protocol';
import { UNWRITTEN, idempotencyKeyOf, readUnwritten, type AppendOptions, type AppendResult, type HistoryOptions, type HistoryStore, type ReadOptions, type ReadResult } from './history-store.ts';
import { hashed, token, type NatsNames } from '../nats/names.ts';
import { ensureStream, JsMessages } from './jetstream-messages.ts';
import { walkForward, walkReverse } from './jetstream-reads.ts';
import { StreamAppender } from './jetstream-appender.ts';

export interface JetStreamHistoryStoreOptions {
  nc: NatsConnection;
  names: NatsNames;
  /** Stream and bucket replicas (`nats.replicas`): a publication is acknowledged once a majority of them hold it. */
  replicas: number;
  /** What the streams keep per channel at most (the largest history `size` of any namespace). Default 10,000. */
  maxPerChannel?: number;
  /** JetStream's duplicate window (ms): at least the `dedupWindow`. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** How long an append retries while JetStream answers nothing (a leader election) before it fails. Default 10 s. */
  appendTimeoutMs?: number;
  /**
   * The node's `NatsBroker` delivers what this store appends (it consumes the history
   * streams): the store offers `appendAndPublish`, which is `append`.
   */
  publishes?: boolean;
  /** Close the connection on `close`. Default false. */
  owns?: boolean;
  now?: () => number;
}

/** What the key bucket keeps for an idempotency key: where it was stored and until when it counts. */
interface KeyRecord {
  epoch: string;
  offset: number;
  exp: number;
}

/**
 * History on NATS JetStream: channels spread over a few replicated streams (`NatsNames.shards`),
 * a subject per channel, a message per publication. A publication's offset and epoch ride in
 * its headers (`Sb-Off`, `Sb-Ep`) with the stream sequence of the channel's previous message
 * (`Sb-Prev`); `StreamAppender` makes each append conditional on the stream's last sequence,
 * so offsets are 1, 2, 3 … without holes whichever node appends, and an append resolves only
 * after JetStream's publish acknowledgement, which a stream with replicas sends once a
 * majority (Raft) holds the message. A channel begins a new epoch whenever it has no message
 * (never written, removed, or its stream was rebuilt).
 *
 * Idempotency keys: JetStream's own duplicate detection (`Nats-Msg-Id`) makes a retried
 * append store once even when the first attempt's acknowledgement was lost; a key bucket
 * records each key's offset and the store's clock decides when a key is forgotten (the
 * message id carries the record's revision, so a key forgotten by the store is a new id).
 * Claims for channels without history are exact read-modify-writes on that bucket (`CasBucket`).
 * Reads go to the stream leader (`STREAM.MSG.GET`): what was acknowledged is read.
 */
export class JetStreamHistoryStore implements HistoryStore {
  private readonly o: JetStreamHistoryStoreOptions;
  private readonly now: () => number;
  private readonly msgs: JsMessages[];
  private readonly appenders: StreamAppender[];
  private jsm: Promise<JetStreamManager> | undefined;
  private prepared: Promise<{ keys: KV; claims: CasBucket }> | undefined;
  readonly appendAndPublish?: HistoryStore['appendAndPublish'];

  constructor(o: JetStreamHistoryStoreOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    const js = jetstream(o.nc);
    const jsm = () => this.manager();
    this.msgs = o.names.historyStreams().map((stream) => new JsMessages(jsm, stream));
    this.appenders = this.msgs.map((msgs, shard) => new StreamAppender({ js, jsm, msgs, stream: o.names.historyStream(shard), marker: o.names.historyMarker(shard), timeoutMs: o.appendTimeoutMs ?? 10_000 }));
    // The node's NATS broker delivers history publications from the streams in stream order.
    if (o.publishes) this.appendAndPublish = (channel, pub, opts) => this.append(channel, pub, opts);
  }

  private manager(): Promise<JetStreamManager> {
    return (this.jsm ??= jetstreamManager(this.o.nc));
  }

  /** Creates (or widens) the streams and the key bucket, once; the backends call it at start. */
  prepare(): Promise<{ keys: KV; claims: CasBucket }> {
    this.prepared ??= (async () => {
      const jsm = await this.manager();
      const dup = this.o.duplicateWindowMs ?? 120_000;
      await Promise.all(this.o.names.historyStreams().map((name, shard) => ensureStream(jsm, {
        name,
        subjects: [this.o.names.historySubjects(shard)],
        replicas: this.o.replicas,
        maxPerSubject: this.o.maxPerChannel ?? 10_000,
        duplicateWindowMs: dup,
      })));
      const keys = await openBucket(this.o.nc, this.o.names.bucket('keys'), this.o.replicas, Math.max(dup * 2, 600_000));
      return { keys, claims: new CasBucket(this.o.nc, keys, this.o.names.bucket('keys')) };
    })().catch((err) => {
      this.prepared = undefined;
      throw err;
    });
    return this.prepared;
  }

  async append(channel: string, pub: Omit<Publication, 'offset' | 'epoch'>, o: AppendOptions): Promise<AppendResult> {
    const { keys } = await this.prepare();
    const subject = this.o.names.historySubject(channel);
    const shard = this.o.names.shardOf(channel);
    const now = this.now();
    const key = o.idempotencyKey === undefined ? undefined : this.o.names.key('a', token(channel), hashed(idempotencyKeyOf(o.idempotencyKey, o.publisher)));
    let generation = 0;
    if (key) {
      const rec = await keys.get(key);
      if (rec && rec.operation === 'PUT') {
        const r = rec.json<KeyRecord>();
        const last = await this.msgs[shard]!.lastOf(subject);
        if (r.exp > now && last && last.epoch === r.epoch && r.offset <= last.offset) return { epoch: r.epoch, offset: r.offset, duplicate: true };
        generation = rec.revision;
      }
    }
    // A traced publication's `traceparent` rides in a header (history never returns it).
    const { offset: _o, epoch: _e, traceparent, ...rest } = pub as Publication & { traceparent?: string };
    const stored = await this.appenders[shard]!.append({
      subject,
      body: JSON.stringify({ ...rest, channel }),
      ts: pub.ts ?? now,
      msgID: key ? `${key}.${generation}` : randomUUID(),
      ...(traceparent !== undefined ? { traceparent } : {}),
    });
    // Without a key, or when an earlier attempt of this very append stored it, it is no duplicate.
    const result = { epoch: stored.epoch, offset: stored.offset, duplicate: stored.duplicate && key !== undefined && !stored.unsure };
    if (key) await keys.put(key, JSON.stringify({ epoch: result.epoch, offset: result.offset, exp: now + o.dedupWindowMs } satisfies KeyRecord));
    return result;
  }

  /** The channel's last message (from its stream's leader); undefined when it has none. */
  private last(channel: string) {
    return this.msgs[this.o.names.shardOf(channel)]!.lastOf(this.o.names.historySubject(channel));
  }

  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    const subject = this.o.names.historySubject(channel);
    const msgs = this.msgs[this.o.names.shardOf(channel)]!;
    const last = await msgs.lastOf(subject);
    if (!last) return readUnwritten(o);
    return o.reverse ? walkReverse(msgs, subject, last, o, this.now() - o.retention.ttlMs) : walkForward(msgs, subject, last, o, this.now() - o.retention.ttlMs);
  }

  async position(channel: string): Promise<StreamPosition> {
    const last = await this.last(channel);
    return last ? { epoch: last.epoch, offset: last.offset } : { ...UNWRITTEN };
  }

  async claimKey(channel: string, key: FrameId, windowMs: number, publisher?: string): Promise<boolean> {
    const { claims } = await this.prepare();
    const k = this.o.names.key('c', token(channel), hashed(idempotencyKeyOf(key, publisher)));
    const now = this.now();
    // Exact across nodes (`CasBucket`): of two claims of one key at once, one wins.
    return claims.update<{ exp: number }, boolean>(k, (cur) => (cur && cur.exp > now ? { value: cur, result: false } : { value: { exp: now + Math.max(1, windowMs) }, result: true }));
  }

  async remove(channel: string): Promise<void> {
    const jsm = await this.manager();
    const shard = this.o.names.shardOf(channel);
    const subject = this.o.names.historySubject(channel);
    await this.appenders[shard]!.idle();
    try {
      await jsm.streams.purge(this.o.names.historyStream(shard), { filter: subject });
    } catch (err) {
      if (!JsMessages.streamMissing(err)) throw err;
    }
    this.appenders[shard]!.forget(subject);
  }

  /** Waits for the appends in flight, then closes the connection when it owns it. */
  async close(): Promise<void> {
    await Promise.all(this.appenders.map((a) => a.idle()));
    if (this.o.owns) await this.o.nc.close();
  }
}
