import { JetStreamApiError, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamManager, type StoredMsg, type StreamConfig } from '@nats-io/jetstream';
import type { Publication } from '@switchboard/protocol';

/** JetStream's code for "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** JetStream's code for "no message found". */
const NO_MESSAGE = 10037;

/** One stored publication as its headers describe it. */
export interface Entry {
  /** Its stream sequence. */
  seq: number;
  offset: number;
  epoch: string;
  /** The stream sequence of the channel's previous message (0: none). */
  prev: number;
  /** The publication's `ts` (what ttl retention compares). */
  ts: number;
  /** The stored publication (without offset and epoch); absent on entries this node made. */
  body?: Uint8Array;
}

/** A stored message as an `Entry`; undefined when it is not a publication (no `Sb-Off`). */
function entryOf(m: StoredMsg): Entry | undefined {
  const off = m.header?.get('Sb-Off');
  if (!off) return undefined;
  return { seq: m.seq, offset: Number(off), epoch: m.header.get('Sb-Ep'), prev: Number(m.header.get('Sb-Prev') || 0), ts: Number(m.header.get('Sb-Ts') || 0), body: m.data };
}

/** The publication an entry holds, with its channel, offset and epoch. */
export function publicationOf(e: Entry, channel?: string): Publication {
  const pub = JSON.parse(new TextDecoder().decode(e.body)) as Publication;
  return { ...pub, ...(channel !== undefined ? { channel } : {}), offset: e.offset, epoch: e.epoch };
}

/** What the history stream is made with. */
export interface StreamSpec {
  name: string;
  subjects: string[];
  replicas: number;
  maxPerSubject: number;
  duplicateWindowMs: number;
}

/**
 * Creates the stream when it does not exist; widens what it keeps per subject, its duplicate
 * window and its replicas when an existing one keeps less. Another node creating it at the
 * same moment is fine (the second create answers the first's stream).
 */
export async function ensureStream(jsm: JetStreamManager, s: StreamSpec): Promise<void> {
  const want: Partial<StreamConfig> & { name: string } = {
    name: s.name,
    subjects: s.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: s.replicas,
    max_msgs_per_subject: s.maxPerSubject,
    duplicate_window: s.duplicateWindowMs * 1_000_000,
  };
  let info;
  try {
    info = await jsm.streams.info(s.name);
  } catch (err) {
    if (!JsMessages.streamMissing(err)) throw err;
    try {
      await jsm.streams.add(want);
      return;
    } catch (again) {
      info = await jsm.streams.info(s.name).catch(() => {
        throw again;
      });
    }
  }
  const c = info.config;
  if (c.max_msgs_per_subject < s.maxPerSubject || (c.duplicate_window ?? 0) < want.duplicate_window! || c.num_replicas < s.replicas) {
    await jsm.streams.update(s.name, { ...c, max_msgs_per_subject: Math.max(c.max_msgs_per_subject, s.maxPerSubject), duplicate_window: Math.max(c.duplicate_window ?? 0, want.duplicate_window!), num_replicas: Math.max(c.num_replicas, s.replicas) });
  }
}

/**
 * Reads single messages of the history stream from its leader (`STREAM.MSG.GET`, never a
 * replica that may lag behind what was acknowledged). A missing stream reads as no message.
 */
export class JsMessages {
  private readonly jsm: () => Promise<JetStreamManager>;
  private readonly stream: string;

  constructor(jsm: () => Promise<JetStreamManager>, stream: string) {
    this.jsm = jsm;
    this.stream = stream;
  }

  /** True when `err` says the stream does not exist. */
  static streamMissing(err: unknown): boolean {
    return err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND;
  }

  private async get(query: { seq: number } | { last_by_subj: string } | { seq: number; next_by_subj: string }): Promise<Entry | undefined> {
    const jsm = await this.jsm();
    try {
      // `next_by_subj` with `seq` (the first message of a subject at or after seq) is answered
      // by STREAM.MSG.GET since nats-server 2.9; the client types it for direct gets only.
      const m = await jsm.streams.getMessage(this.stream, query as { seq: number });
      return m ? entryOf(m) : undefined;
    } catch (err) {
      if (JsMessages.streamMissing(err) || (err instanceof JetStreamApiError && err.code === NO_MESSAGE)) return undefined;
      throw err;
    }
  }

  /** The last message of `subject`. */
  lastOf(subject: string): Promise<Entry | undefined> {
    return this.get({ last_by_subj: subject });
  }

  /** The message at stream sequence `seq` (of whatever subject). */
  bySeq(seq: number): Promise<Entry | undefined> {
    return seq > 0 ? this.get({ seq }) : Promise.resolve(undefined);
  }

  /** The first message of `subject` at or after stream sequence `seq`. */
  nextOf(subject: string, seq: number): Promise<Entry | undefined> {
    return this.get({ seq: Math.max(1, seq), next_by_subj: subject });
  }
}
