interface Waiting<T, R> {
  item: T;
  resolve(r: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit with one batch in flight: items added while a batch runs wait and leave
 * together in the next one (at most `max` per batch), so under load one round trip and one
 * commit carry many items, and items run in the order they were added — a batch never
 * overtakes the one before it (two batches on two connections could commit in either order).
 * The first batch of a quiet moment leaves once the current event-loop turn's I/O is
 * handled (`setImmediate`). A failed batch rejects each of its items.
 */
export class SingleFlight<T, R> {
  private pending: Array<Waiting<T, R>> = [];
  private running = false;
  private scheduled = false;
  private readonly run: (items: T[]) => Promise<R[]>;
  private readonly max: number;

  constructor(run: (items: T[]) => Promise<R[]>, max = 256) {
    this.run = run;
    this.max = max;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.drain();
        });
      }
    });
  }

  /** True while nothing waits and nothing runs. */
  get idle(): boolean {
    return !this.running && this.pending.length === 0;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.max);
        try {
          const results = await this.run(batch.map((w) => w.item));
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
