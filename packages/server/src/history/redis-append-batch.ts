/** One publication waiting for its channel's next append call. */
export interface PendingAppend {
  /** The publication's JSON (without offset and epoch). */
  json: string;
  /** The idempotency key's Redis key (a placeholder when there is none). */
  idKey: string;
  /** Dedup window ms; 0: no idempotency key. */
  window: number;
  ts: number;
  /** Publish it to the channel's pub/sub channel as it is stored. */
  publish: boolean;
}

/** What one append call stored (or found) for each publication, in order. */
export type AppendOutcome = { epoch: string; offset: number; duplicate: boolean };

/** Publications of one channel with the same retention, in call order. */
export interface AppendGroup {
  channel: string;
  size: number;
  ttlMs: number;
  items: PendingAppend[];
}

interface Waiting extends PendingAppend {
  resolve(o: AppendOutcome): void;
  reject(err: unknown): void;
}

/**
 * Gathers the appends made during one turn of the event loop and runs them per channel
 * (`run`, one script call for up to `maxBatch` publications) once the turn's I/O is
 * handled (`setImmediate`): under load, the publishes read from many sockets in one turn
 * leave in one write per Redis connection (auto-pipelining) and cost Redis one script run
 * per channel instead of one per publication. A channel's publications keep their call
 * order (its calls are issued in order on one connection); a failed call rejects every
 * publication in it (none was acknowledged; each is retried with its idempotency key).
 */
export class AppendBatcher {
  /** The turn's groups in the order they were opened; a channel's groups keep its call order. */
  private groups: Array<Omit<AppendGroup, 'items'> & { items: Waiting[] }> = [];
  /** Each channel's open group (the last one opened for it). */
  private open = new Map<string, Omit<AppendGroup, 'items'> & { items: Waiting[] }>();
  private scheduled = false;
  private readonly run: (groups: AppendGroup[]) => Array<Promise<AppendOutcome[]>>;
  private readonly maxBatch: number;

  /** `run` issues one call per group (all at once, in order) and answers each call's outcomes. */
  constructor(run: (groups: AppendGroup[]) => Array<Promise<AppendOutcome[]>>, maxBatch = 64) {
    this.run = run;
    this.maxBatch = maxBatch;
  }

  add(channel: string, retention: { size: number; ttlMs: number }, item: PendingAppend): Promise<AppendOutcome> {
    let group = this.open.get(channel);
    // A full group, or other retention for the channel (its configuration changed): a new
    // group after it, so the channel's publications still go out in call order.
    if (!group || group.items.length >= this.maxBatch || group.size !== retention.size || group.ttlMs !== retention.ttlMs) {
      group = { channel, size: retention.size, ttlMs: retention.ttlMs, items: [] };
      this.groups.push(group);
      this.open.set(channel, group);
    }
    const items = group.items;
    const done = new Promise<AppendOutcome>((resolve, reject) => items.push({ ...item, resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  private flush(): void {
    const batches = this.groups;
    this.groups = [];
    this.open = new Map();
    this.scheduled = false;
    let calls: Array<Promise<AppendOutcome[]>>;
    try {
      calls = this.run(batches);
    } catch (err) {
      calls = batches.map(() => Promise.reject(err));
    }
    batches.forEach(({ items }, b) => {
      calls[b]!.then(
        (outcomes) => {
          if (outcomes.length !== items.length) throw new Error(`append call answered ${outcomes.length} results for ${items.length} publications`);
          items.forEach((it, k) => it.resolve(outcomes[k]!));
        },
      ).catch((err: unknown) => items.forEach((it) => it.reject(err)));
    });
  }
}
