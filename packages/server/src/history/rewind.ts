import type { Publication, StreamPosition } from '@switchboard/protocol';
import type { HistoryOptions, HistoryStore } from './history-store.ts';

/** What a rewind read answers: the stream's position and the publications, oldest first. */
export interface RewindResult {
  position: StreamPosition;
  publications: Publication[];
}

/**
 * The newest `count` publications retained on a channel, oldest first, at most `maxBytes`
 * of JSON together: when they would not fit, the oldest are left out (the newest always
 * come, even one alone larger than the budget, so a rewind never answers nothing for a
 * channel that has something). With `upTo`, only publications at or below that position
 * (same epoch; another epoch gives none).
 */
export async function readRewind(
  history: Pick<HistoryStore, 'read' | 'position'>,
  channel: string,
  o: { count: number; maxBytes: number; retention: HistoryOptions; upTo?: StreamPosition },
): Promise<RewindResult> {
  let since: StreamPosition | undefined;
  if (o.upTo) {
    // Reverse reads take an exclusive upper bound that must not lie past the stream's top.
    const top = await history.position(channel);
    if (top.epoch !== o.upTo.epoch) return { position: top, publications: [] };
    if (top.offset > o.upTo.offset) since = { epoch: o.upTo.epoch, offset: o.upTo.offset + 1 };
  }
  // Newest first, the store stopping at the byte bound: what does not fit is the oldest.
  const read = await history.read(channel, { limit: o.count, reverse: true, maxBytes: o.maxBytes, retention: o.retention, ...(since ? { since } : {}) });
  if (!read.recoverable) return { position: read.position, publications: [] };
  return { position: read.position, publications: read.publications.reverse() };
}
