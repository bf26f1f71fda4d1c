import { headers as natsHeaders } from '@nats-io/transport-node';
import { JetStreamApiError, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { newEpoch } from './memory-history-store.ts';
import type { Entry, JsMessages } from './jetstream-messages.ts';

/** JetStream's code for a failed `Nats-Expected-Last-Sequence`. */
const WRONG_LAST_SEQUENCE = 10071;

/** One publication to store. */
export interface Append {
  subject: string;
  body: string;
  ts: number;
  /** `Nats-Msg-Id`: JetStream stores a retried append with the same id once. */
  msgID: string;
  traceparent?: string;
}

/** What storing answered: the publication's offset and epoch, and whether JetStream already had its id. */
export interface Stored {
  epoch: string;
  offset: number;
  /** JetStream answered with an earlier message of the same id. */
  duplicate: boolean;
  /** An attempt before the one that answered may have stored it (no answer came). */
  unsure: boolean;
}

interface Pending extends Append {
  resolve(s: Stored): void;
  reject(err: unknown): void;
}

/**
 * Appends to one history stream, one publication at a time (so in call order), each
 * conditional on the stream's last sequence (`Nats-Expected-Last-Sequence`). The offset is
 * the channel's last offset at that sequence + 1: a write by another node in between fails
 * the condition, and the append reads the stream's tip and the channel's last message again.
 * (The per-subject condition, `Nats-Expected-Last-Subject-Sequence`, would let appends of
 * several channels run at once, but clustered nats-server 2.9 does not hold it for messages
 * still being replicated: two appends expecting the same subject sequence can both succeed.)
 * Knowledge of channels' last messages is kept only while this appender's view of the
 * stream's tip follows from its own acknowledgements.
 */
export class StreamAppender {
  private readonly js: JetStreamClient;
  private readonly jsm: () => Promise<JetStreamManager>;
  private readonly stream: string;
  private readonly marker: string;
  private readonly msgs: JsMessages;
  private readonly timeoutMs: number;
  private readonly queue: Pending[] = [];
  /** The stream's last sequence as far as this appender knows it (undefined: read it). */
  private tip: number | undefined;
  /** Channels' last messages at `tip`. */
  private readonly known = new Map<string, Entry>();
  private running: Promise<void> | undefined;

  constructor(o: { js: JetStreamClient; jsm: () => Promise<JetStreamManager>; stream: string; marker: string; msgs: JsMessages; timeoutMs: number }) {
    this.js = o.js;
    this.jsm = o.jsm;
    this.stream = o.stream;
    this.marker = o.marker;
    this.msgs = o.msgs;
    this.timeoutMs = o.timeoutMs;
  }

  /** Stores `a` after every append queued before it. */
  append(a: Append): Promise<Stored> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...a, resolve, reject });
      this.running ??= this.pump();
    });
  }

  /** Resolves once every append queued so far is settled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Forget what is known of a channel (it was removed). */
  forget(subject: string): void {
    this.known.delete(subject);
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const p = this.queue[0]!;
        try {
          p.resolve(await this.store(p));
        } catch (err) {
          p.reject(err);
        }
        this.queue.shift();
      }
    } finally {
      this.running = undefined;
    }
  }

  private async readTip(): Promise<number> {
    const info = await (await this.jsm()).streams.info(this.stream);
    this.known.clear();
    return info.state.last_seq;
  }

  private async store(a: Append): Promise<Stored> {
    const deadline = Date.now() + this.timeoutMs;
    let unsure = false;
    for (let attempt = 0; ; attempt++) {
      try {
        this.tip ??= await this.readTip();
        if (this.tip === 0) {
          // An empty stream has no sequence to expect: its first message is a marker (stored once).
          await this.js.publish(this.marker, '', { msgID: 'marker' });
          this.tip = undefined;
          continue;
        }
        let last = this.known.get(a.subject);
        if (!last) {
          last = await this.msgs.lastOf(a.subject);
          if (last && last.seq > this.tip) {
            this.tip = undefined; // the tip moved on meanwhile
            continue;
          }
        }
        const entry: Entry = { seq: 0, offset: (last?.offset ?? 0) + 1, epoch: last?.epoch ?? newEpoch(), prev: last?.seq ?? 0, ts: a.ts };
        const h = natsHeaders();
        h.set('Sb-Off', String(entry.offset));
        h.set('Sb-Ep', entry.epoch);
        h.set('Sb-Prev', String(entry.prev));
        h.set('Sb-Ts', String(a.ts));
        if (a.traceparent !== undefined) h.set('Sb-Tp', a.traceparent);
        const ack: PubAck = await this.js.publish(a.subject, a.body, { msgID: a.msgID, headers: h, expect: { lastSequence: this.tip }, timeout: 5000 });
        if (ack.duplicate) {
          this.tip = undefined;
          const first = await this.msgs.bySeq(ack.seq);
          const at = first ?? (await this.msgs.lastOf(a.subject));
          return { epoch: at?.epoch ?? entry.epoch, offset: at?.offset ?? entry.offset, duplicate: true, unsure };
        }
        entry.seq = ack.seq;
        this.tip = ack.seq;
        this.known.set(a.subject, entry);
        if (this.known.size > 10_000) this.known.delete(this.known.keys().next().value!);
        return { epoch: entry.epoch, offset: entry.offset, duplicate: false, unsure };
      } catch (err) {
        this.tip = undefined;
        if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) continue;
        // No answer (a leader election, a lost connection): the message may be stored; its id
        // makes the retry store it once.
        if (!(err instanceof JetStreamApiError) && Date.now() < deadline) {
          unsure = true;
          await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
          continue;
        }
        throw err;
      }
    }
  }
}
