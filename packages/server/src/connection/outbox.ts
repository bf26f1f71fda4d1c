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
}

/** Schedules `c.flush()` for the end of this turn. Call once per connection per turn. */
export function scheduleFlush(c: Flushable): void {
  dirty.push(c);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Joins encoded frames into one JSON-array batch frame. */
export function joinBatch(frames: readonly Buffer[]): Buffer {
  const parts: Buffer[] = new Array(frames.length * 2 + 1);
  let n = 0;
  parts[n++] = OPEN;
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) parts[n++] = COMMA;
    parts[n++] = frames[i]!;
  }
  parts[n++] = CLOSE;
  return Buffer.concat(parts.slice(0, n));
}
