import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

/** JetStream's code for a failed `Nats-Expected-Last-Sequence`. */
const WRONG_LAST_SEQUENCE = 10071;

interface Job {
  key: string;
  change: (cur: unknown) => { value: unknown; result: unknown };
  resolve(r: unknown): void;
  reject(err: unknown): void;
}

/**
 * Read-modify-write on a KV bucket that is exact under concurrency: each write is conditional
 * on the bucket stream's last sequence (`Nats-Expected-Last-Sequence`, which clustered
 * nats-server 2.9 holds for messages still being replicated, unlike the per-key revision
 * `KV.update` uses). A node's writes to one bucket go one at a time (a queue); a write that
 * raced another node's reads again and decides again. Values are JSON; writes use the KV
 * wire format (`$KV.<bucket>.<key>`, a delete is `KV-Operation: DEL`), so `KV.get` reads them.
 */
export class CasBucket {
  private readonly js: JetStreamClient;
  private readonly jsm: Promise<JetStreamManager>;
  private readonly kv: KV;
  private readonly bucket: string;
  private readonly queue: Job[] = [];
  private running = false;
  /** The bucket stream's last sequence as far as this node knows (undefined: read it). */
  private tip: number | undefined;

  constructor(nc: NatsConnection, kv: KV, bucket: string) {
    this.js = jetstream(nc);
    this.jsm = jetstreamManager(nc);
    this.kv = kv;
    this.bucket = bucket;
  }

  /** The value of `key` (from the stream's leader); undefined when none. */
  async get<T>(key: string): Promise<T | undefined> {
    const e = await this.kv.get(key);
    return e && e.operation === 'PUT' && e.length > 0 ? e.json<T>() : undefined;
  }

  /**
   * Changes `key`: `change` gets its value (undefined when none) and answers the new value
   * (undefined: delete it; the very same value: write nothing) and what `update` resolves to.
   * `change` may run more than once (when another node wrote first); it must not have effects.
   */
  update<T, R>(key: string, change: (cur: T | undefined) => { value: T | undefined; result: R }): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ key, change: change as Job['change'], resolve: resolve as Job['resolve'], reject });
      if (!this.running) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const job = this.queue[0]!;
        try {
          job.resolve(await this.run(job));
        } catch (err) {
          job.reject(err);
        }
        this.queue.shift();
      }
    } finally {
      this.running = false;
    }
  }

  private async run(job: Job): Promise<unknown> {
    const deadline = Date.now() + 10_000;
    for (let attempt = 0; ; attempt++) {
      try {
        this.tip ??= (await (await this.jsm).streams.info(`KV_${this.bucket}`)).state.last_seq;
        if (this.tip === 0) {
          // An empty stream has no sequence to expect: its first message is a marker.
          await this.kv.put('-', '');
          this.tip = undefined;
          continue;
        }
        const e = await this.kv.get(job.key);
        if (e && e.revision > this.tip) {
          this.tip = undefined; // the bucket moved on meanwhile
          continue;
        }
        const cur = e && e.operation === 'PUT' && e.length > 0 ? e.json<unknown>() : undefined;
        const { value, result } = job.change(cur);
        if (value === cur) return result;
        const h = natsHeaders();
        if (value === undefined) h.set('KV-Operation', 'DEL');
        const subject = `$KV.${this.bucket}.${job.key}`;
        const body = value === undefined ? '' : JSON.stringify(value);
        const ack = await this.js.publish(subject, body, { headers: h, expect: { lastSequence: this.tip } });
        this.tip = ack.seq;
        return result;
      } catch (err) {
        this.tip = undefined;
        if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) continue;
        if (!(err instanceof JetStreamApiError) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
          continue;
        }
        throw err;
      }
    }
  }
}
