import type { StreamPosition } from '@switchboard/protocol';
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
 * Every history read a node serves to clients (`history` commands, `subscribe` recoveries
 * and rewinds, the server API) goes through here, so that reads can never take the event
 * loop from everything else:
 * - each is bounded in bytes (`ReadOptions.maxBytes`: the store stops there);
 * - at most `inFlight` run at once (a store that answers asynchronously, Redis, holds at most
 *   that many replies in memory); the others wait in a FIFO queue;
 * - in one turn of the event loop, reads start only while less than `maxBytes` has been read
 *   in that turn; the others wait for the next turn. Memory and SQLite stores read
 *   synchronously, so without this many connections' reads would run back to back in one
 *   turn and every other socket (pings, publishes) would wait for all of them; with it, I/O
 *   is served between every megabyte or so of history.
 * Commands of one connection already run one at a time, so a connection has at most one
 * read here.
 */
export class HistoryReads {
  private readonly store: HistoryStore;
  private readonly max: number;
  readonly maxBytes: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Bytes read in the current event-loop turn; reset by an immediate at the turn's end. */
  private spent = 0;
  private resetting = false;
  /** Counts the turns whose budget was renewed. */
  private turn = 0;
  /** The most reads that ever ran at once (for tests and metrics). */
  peak = 0;

  constructor(o: HistoryReadsOptions) {
    this.store = o.store;
    this.max = o.inFlight;
    this.maxBytes = o.maxBytes;
  }

  /** The stream's position (no publications read: not gated). */
  position(channel: string): Promise<StreamPosition> {
    return this.store.position(channel);
  }

  /** Reads in progress now (holding a slot). */
  get inFlight(): number {
    return this.running;
  }

  /** Reads waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Reads through the store, at most `maxBytes` (or `o.maxBytes` when smaller), when a slot and the turn allow. */
  async read(channel: string, o: ReadOptions & { retention: HistoryOptions }): Promise<ReadResult> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      while (this.spent >= this.maxBytes) await new Promise((resolve) => setImmediate(resolve));
      const maxBytes = Math.min(o.maxBytes ?? Infinity, this.maxBytes);
      // Reserve the whole bound before reading (another read starting in this same turn sees
      // it), then give back what the read did not use, if the turn has not ended meanwhile.
      const turn = this.turn;
      this.charge(maxBytes);
      const r = await this.store.read(channel, { ...o, maxBytes });
      if (turn === this.turn) this.spent = Math.max(0, this.spent - (maxBytes - (r.bytes ?? maxBytes)));
      return r;
    } finally {
      // Hand the slot straight to the next waiter (it counts as running already).
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Counts bytes against this turn's budget; the budget is renewed once the turn ends. */
  private charge(bytes: number): void {
    this.spent += bytes;
    if (this.resetting) return;
    this.resetting = true;
    setImmediate(() => {
      this.spent = 0;
      this.resetting = false;
      this.turn++;
    });
  }
}
