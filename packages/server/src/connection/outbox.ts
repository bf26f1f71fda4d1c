/**
 * Batches writes: frames queued for a connection during one event-loop turn leave in one
 * write (one batch frame for batching clients, corked frames otherwise). One `setImmediate`
 * serves every connection that has something queued.
 */
export interface Flushable {
  flush(): void;
}

let dirty: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i]!.flush();
  lastFrames = undefined;
  lastBatch = undefined;
}

/** Schedules `c.flush()` for the end of this turn. Call once per connection per turn. */
export function scheduleFlush(c: Flushable): void {
  dirty.push(c);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

/**
 * The last batch built and the frames it was built from. In a fan-out every subscriber of a
 * channel queues the same frames in the same order during a turn, so consecutive
 * connections usually ask for the very same batch: it is joined once (and, being the same
 * Buffer, framed once by the transport). Forgotten at the end of each flush pass.
 */
let lastFrames: readonly Buffer[] | undefined;
let lastBatch: Buffer | undefined;

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Joins encoded frames into one JSON-array batch frame. The caller must not change
 * `frames` afterwards (the connection hands over its queue and starts a new one).
 */
export function joinBatch(frames: readonly Buffer[]): Buffer {
  if (lastFrames !== undefined && sameFrames(frames, lastFrames)) return lastBatch!;
  const batch = buildBatch(frames);
  lastFrames = frames;
  lastBatch = batch;
  return batch;
}

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
