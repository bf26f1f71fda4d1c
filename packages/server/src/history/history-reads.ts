import type { HistoryOptions, HistoryStore, ReadOptions, ReadResult } from './history-store.ts';

/** What `HistoryReads` needs: the store, and how many reads may run at once. */
export interface HistoryReadsOptions {
  store: HistoryStore;
  /** Reads running at once (`limits.historyReadsInFlight`); more wait in arrival order. */
  inFlight: number;
  /** Bytes one read returns at most (`limits.maxReplayBytes`, capped by the caller). */
  maxBytes: number;
}

/**
 * Every history read a node serves to clients (`history` commands, `subscribe` recoveries,
 * the server API) goes through here: each is bounded in bytes (`ReadOptions.maxBytes`, so
 * the store stops there) and at most `inFlight` run at once; the others wait in a FIFO queue.
 * Commands of one connection already run one at a time, so a connection has at most one read
 * here; this bounds the node as a whole (memory held by reads in progress, store load).
 */
export class HistoryReads {
  private readonly store: HistoryStore;
  private readonly max: number;
  readonly maxBytes: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** The most reads that ever ran at once (for tests and metrics). */
  peak = 0;

  constructor(o: HistoryReadsOptions) {
    this.store = o.store;
    this.max = o.inFlight;
    this.maxBytes = o.maxBytes;
  }

  /** Reads in progress now. */
  get inFlight(): number {
    return this.running;
  }

  /** Reads waiting for a turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Reads through the store, at most `maxBytes` (or `o.maxBytes` when smaller), when a slot is free. */
  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await this.store.read(channel, { ...o, maxBytes: Math.min(o.maxBytes ?? Infinity, this.maxBytes) });
    } finally {
      // Hand the slot straight to the next waiter (it counts as running already).
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
