import { FanoutEncoder } from '../transport/fanout.ts';

/** What the outbox flushes: a connection with something queued. */
export interface Flushable {
  flush(): void;
}

/**
 * The write path of one node: frames queued for a connection during one event-loop turn
 * leave in one write (one batch frame for batching clients, corked frames otherwise), and
 * one `setImmediate` serves every connection that has something queued. Each pass hands the
 * same `FanoutEncoder` to every transport write and clears it at the end, so a payload that
 * every subscriber sends is framed (and compressed) once. One instance per node: no module
 * state.
 */
export class Outbox {
  /** The write path's fan-out encoder (see `FanoutEncoder`). */
  readonly encoder = new FanoutEncoder();
  private dirty: Flushable[] = [];
  private scheduled = false;
  /**
   * The last batch built and the frames it was built from. In a fan-out every subscriber of
   * a channel queues the same frames in the same order during a turn, so consecutive
   * connections usually ask for the very same batch: it is joined once (and, being the same
   * Buffer, framed once by the transport). Forgotten at the end of each pass.
   */
  private lastFrames: readonly Buffer[] | undefined;
  private lastBatch: Buffer | undefined;
  private readonly flushAll = (): void => {
    this.scheduled = false;
    const list = this.dirty;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    this.lastFrames = undefined;
    this.lastBatch = undefined;
    this.encoder.clear();
  };

  /** Schedules `c.flush()` for the end of this turn. Call once per connection per turn. */
  schedule(c: Flushable): void {
    this.dirty.push(c);
    this.wake();
  }

  /**
   * The encoder was used outside a pass (a connection flushed at once as it closed): clear it
   * at the end of the turn, so what it holds never outlives the turn.
   */
  usedOutsidePass(): void {
    this.wake();
  }

  private wake(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushAll);
  }

  /**
   * Joins encoded frames into one JSON-array batch frame (protocol v1 batching). The caller
   * must not change `frames` afterwards (the connection hands over its queue and starts a
   * new one).
   */
  joinBatch(frames: readonly Buffer[]): Buffer {
    if (this.lastFrames !== undefined && sameFrames(frames, this.lastFrames)) return this.lastBatch!;
    const batch = buildBatch(frames);
    this.lastFrames = frames;
    this.lastBatch = batch;
    return batch;
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `[f1,f2,…]`: the frames joined into one JSON array, in one allocation. */
function buildBatch(frames: readonly Buffer[]): Buffer {
  let size = frames.length + 1; // "[", "]" and the commas between
  for (let i = 0; i < frames.length; i++) size += frames[i]!.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x5b; // [
  let at = 1;
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    at += frames[i]!.copy(out, at);
  }
  out[at] = 0x5d; // ]
  return out;
}
