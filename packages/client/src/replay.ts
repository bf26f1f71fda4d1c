import type { Publication, StreamPosition } from '@switchboard/protocol';
import { SwitchboardError } from './errors.ts';

/** What a replay page needs of a `history` reply (the client's `HistoryResult`). */
interface HistoryPage {
  epoch: string;
  publications: Publication[];
  more: boolean;
  /** With a filter: where the next page starts (the last publication read, matching or not). */
  next?: StreamPosition | undefined;
}

/** Reads one `history` page on the live connection (the client's `history`). */
export type HistoryReader = (channel: string, options: { since: StreamPosition; limit: number; filter?: string }) => Promise<HistoryPage>;

/** Publications asked for per page; the server's byte bound (`limits.maxReplayBytes`) usually cuts first. */
const PAGE_LIMIT = 1000;

/** A position the ack carried, or undefined when it is not one. */
export function positionOf(v: unknown): StreamPosition | undefined {
  const p = v as StreamPosition | undefined;
  return p && typeof p === 'object' && typeof p.epoch === 'string' && Number.isSafeInteger(p.offset) ? { epoch: p.epoch, offset: p.offset } : undefined;
}

/**
 * Follows a replay the server cut at its byte bound (`"more": true` in the subscribe ack):
 * reads `history` pages from `next` on, handing every publication up to `upTo` to `deliver`
 * in offset order, until `upTo.offset` is reached (what lies past it arrives live).
 *
 * Resolves true when the replay is complete, false when the stream could not be continued
 * (another epoch, retention dropped the rest, a refusal): the caller reports a gap. Resolves
 * undefined, doing nothing more, once `stale()` is true (the connection was lost or the
 * subscription ended: the next subscribe continues from the last delivered position).
 * Temporary refusals (`too_many_requests`, `internal`) are retried after a pause.
 */
export async function followReplay(
  read: HistoryReader,
  channel: string,
  next: StreamPosition,
  upTo: StreamPosition,
  deliver: (pub: Publication) => void,
  stale: () => boolean,
  filter?: string,
): Promise<boolean | undefined> {
  let since = next;
  if (since.epoch === upTo.epoch && since.offset >= upTo.offset) return true;
  for (;;) {
    let page: HistoryPage;
    try {
      page = await read(channel, { since, limit: PAGE_LIMIT, ...(filter !== undefined ? { filter } : {}) });
    } catch (err) {
      if (stale()) return undefined;
      if (!(err instanceof SwitchboardError) || !err.temporary) return false;
      await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 1500));
      if (stale()) return undefined;
      continue;
    }
    if (stale()) return undefined;
    if (page.epoch !== upTo.epoch) return false;
    let last: number | undefined;
    for (const pub of page.publications) {
      if (pub.offset === undefined || pub.offset <= since.offset) continue;
      if (pub.offset > upTo.offset) break;
      deliver(pub);
      if (stale()) return undefined; // a listener unsubscribed or closed the client
      last = pub.offset;
    }
    // Filtered: the page may hold fewer (or none) of what was read; the server says where it stopped.
    if (page.next !== undefined && page.next.epoch === upTo.epoch && page.next.offset > since.offset) last = Math.max(last ?? 0, page.next.offset);
    if (last !== undefined && last >= upTo.offset) return true;
    // Not there yet: go on from the last one, unless the server has nothing more to give.
    if (last === undefined || !page.more) return false;
    since = { epoch: upTo.epoch, offset: last };
  }
}
