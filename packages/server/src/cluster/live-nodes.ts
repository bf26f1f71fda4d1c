/**
 * Whether another node of the deployment is alive, for requests that name a node (the HTTP
 * transports' connection ids): one that is not is answered at once instead of being relayed
 * and held until a timeout. Behind one function (`isAlive`) so that the source of the answer
 * (today the node directory; later the broker's own view of its nodes) can change alone.
 *
 * Reads of the source are cached and bounded, whatever a client sends: an id found in a view
 * younger than `maxAgeMs` is alive at once; otherwise the caller waits for a view read after
 * it asked (so a node that announced itself before the request is always seen), and reads
 * start one at a time, at most one per `minIntervalMs`. A flood of ids naming nodes that do
 * not exist costs at most 1000 / `minIntervalMs` reads a second.
 */
export class LiveNodes {
  private readonly read: () => Promise<Iterable<string>>;
  private readonly maxAgeMs: number;
  private readonly minIntervalMs: number;
  private view = new Set<string>();
  /** When the read that produced `view` started (ms, `performance.now()`); -Infinity before the first. */
  private viewAt = -Infinity;
  /** The read in progress, when it started, and whether it succeeds. */
  private reading: { at: number; ok: Promise<boolean> } | undefined;
  /** The next read, waiting for the one in progress (and the interval) to let it start. */
  private queued: Promise<boolean> | undefined;
  private lastStart = -Infinity;

  constructor(o: { read: () => Promise<Iterable<string>>; maxAgeMs?: number; minIntervalMs?: number }) {
    this.read = o.read;
    this.maxAgeMs = o.maxAgeMs ?? 1000;
    this.minIntervalMs = o.minIntervalMs ?? 100;
  }

  /**
   * True when `node` is alive. A source that cannot be read answers true (the relay then
   * fails as it would have, with `503`): an outage of the directory never hides a live node.
   */
  isAlive(node: string): boolean | Promise<boolean> {
    const asked = performance.now();
    if (this.view.has(node) && asked - this.viewAt < this.maxAgeMs) return true;
    return this.readAfter(asked).then((ok) => !ok || this.view.has(node));
  }

  /** Resolves once a read that started at or after `t` ended: true when it succeeded. */
  private readAfter(t: number): Promise<boolean> {
    if (this.reading && this.reading.at >= t) return this.reading.ok;
    if (this.queued) return this.queued;
    const before = this.reading?.ok ?? Promise.resolve(true);
    this.queued = before.then(() => this.pause()).then(() => this.start());
    return this.queued;
  }

  /** Waits out the rest of `minIntervalMs` since the last read started. */
  private pause(): Promise<void> | undefined {
    const wait = this.lastStart + this.minIntervalMs - performance.now();
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait).unref()) : undefined;
  }

  private start(): Promise<boolean> {
    this.queued = undefined;
    const at = performance.now();
    this.lastStart = at;
    const ok = this.read().then(
      (ids) => {
        this.view = new Set(ids);
        this.viewAt = at;
        return true;
      },
      () => false,
    );
    const reading = { at, ok };
    this.reading = reading;
    void ok.then(() => {
      if (this.reading === reading) this.reading = undefined;
    });
    return ok;
  }
}
