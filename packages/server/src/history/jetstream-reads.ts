import { UNWRITTEN_EPOCH, type Publication, type StreamPosition } from '@switchboard/protocol';
import { publicationBytes, type HistoryOptions, type ReadOptions, type ReadResult } from './history-store.ts';
import { publicationOf, type Entry, type JsMessages } from './jetstream-messages.ts';

type Read = ReadOptions & { retention: HistoryOptions };

/** Within this many offsets of the channel's last message, `locate` walks back along `Sb-Prev`. */
const WALK_BACK = 32;

/**
 * The message of `subject` at `offset`, knowing its `last` one: walked back along the
 * channel's previous-sequence pointers when near the end, else a binary search over stream
 * sequences (each probe the subject's first message at or after a sequence). Undefined when
 * the offset is no longer (or not yet) stored.
 */
async function locate(msgs: JsMessages, subject: string, last: Entry, offset: number): Promise<Entry | undefined> {
  if (offset > last.offset || offset < 1) return undefined;
  if (last.offset - offset <= WALK_BACK) {
    let cur: Entry | undefined = last;
    while (cur && cur.offset > offset) cur = cur.prev > 0 ? await msgs.bySeq(cur.prev) : undefined;
    return cur?.offset === offset ? cur : undefined;
  }
  let lo = 1;
  let hi = last.seq;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await msgs.nextOf(subject, mid);
    if (!m) return undefined;
    if (m.offset === offset) return m;
    if (m.offset > offset) hi = mid - 1;
    else lo = m.seq + 1;
  }
  return undefined;
}

const unrecoverable = (position: StreamPosition, o: Read): ReadResult => ({ position, publications: [], recoverable: false, more: false, ...(o.maxBytes !== undefined ? { bytes: 0 } : {}) });

/** Collects publications while `limit` and `maxBytes` allow; `next` gives the one after (or undefined). */
async function collect(first: Entry | undefined, o: Read, retained: (e: Entry) => boolean, next: (e: Entry) => Promise<Entry | undefined>): Promise<{ publications: Publication[]; more: boolean; bytes: number }> {
  const limit = Math.max(0, Math.floor(o.limit));
  const maxBytes = o.maxBytes ?? Infinity;
  const publications: Publication[] = [];
  let bytes = 0;
  let more = false;
  const step = o.reverse ? -1 : 1;
  let cur = first;
  while (cur && retained(cur)) {
    if (publications.length > 0 && cur.offset !== publications.at(-1)!.offset! + step) {
      // A hole: retention trimmed the channel while this read walked it; the next page says so.
      more = true;
      break;
    }
    if (publications.length === limit) {
      more = true;
      break;
    }
    const pub = publicationOf(cur);
    if (maxBytes !== Infinity) {
      const size = publicationBytes(pub);
      if (publications.length > 0 && bytes + size > maxBytes) {
        more = true;
        break;
      }
      bytes += size;
    }
    publications.push(pub);
    cur = await next(cur);
  }
  return { publications, more, bytes };
}

/** Where a read may start and whether `since` can be honoured. */
function bounds(last: Entry, o: Read, minTs: number) {
  const position = { epoch: last.epoch, offset: last.offset };
  const sizeFirst = Math.max(1, last.offset - o.retention.size + 1);
  const retained = (e: Entry) => e.offset >= sizeFirst && e.ts >= minTs;
  const since = o.since;
  const unwritten = since !== undefined && since.epoch === UNWRITTEN_EPOCH && since.offset === 0;
  const foreign = since !== undefined && !unwritten && (since.epoch !== position.epoch || since.offset > position.offset);
  return { position, sizeFirst, retained, since: unwritten ? { ...position, offset: 0 } : since, foreign };
}

/**
 * A forward read (`HistoryStore.read`): `since` is recoverable when the publication after it
 * is retained (or it is the latest); walks forward with the subject's next message.
 */
export async function walkForward(msgs: JsMessages, subject: string, last: Entry, o: Read, minTs: number): Promise<ReadResult> {
  const b = bounds(last, o, minTs);
  if (b.foreign) return unrecoverable(b.position, o);
  let start: Entry | undefined;
  if (b.since && b.since.offset < last.offset) {
    start = b.since.offset + 1 >= b.sizeFirst ? await locate(msgs, subject, last, b.since.offset + 1) : undefined;
    if (!start || !b.retained(start)) return unrecoverable(b.position, o);
  }
  const done = (r: { publications: Publication[]; more: boolean; bytes: number }): ReadResult => ({ position: b.position, publications: r.publications, recoverable: true, more: r.more, ...(o.maxBytes !== undefined ? { bytes: r.bytes } : {}) });
  if (Math.floor(o.limit) <= 0 || (b.since && b.since.offset >= last.offset)) return done({ publications: [], more: false, bytes: 0 });
  const next = (e: Entry) => (e.seq >= last.seq ? Promise.resolve(undefined) : msgs.nextOf(subject, e.seq + 1));
  if (!start) {
    // From the oldest retained: the first within `size`, past those older than the ttl.
    start = await locate(msgs, subject, last, b.sizeFirst);
    while (start && start.ts < minTs) start = await next(start);
  }
  return done(await collect(start, o, b.retained, next));
}

/**
 * A reverse read, newest first: from the latest (or before `since`) back along the channel's
 * previous-sequence pointers, while publications are retained.
 */
export async function walkReverse(msgs: JsMessages, subject: string, last: Entry, o: Read, minTs: number): Promise<ReadResult> {
  const b = bounds(last, o, minTs);
  if (b.foreign) return unrecoverable(b.position, o);
  if (b.since && b.since.offset < last.offset) {
    const after = b.since.offset + 1 >= b.sizeFirst ? await locate(msgs, subject, last, b.since.offset + 1) : undefined;
    if (!after || !b.retained(after)) return unrecoverable(b.position, o);
  }
  const done = (r: { publications: Publication[]; more: boolean; bytes: number }): ReadResult => ({ position: b.position, publications: r.publications, recoverable: true, more: r.more, ...(o.maxBytes !== undefined ? { bytes: r.bytes } : {}) });
  const from = b.since ? b.since.offset - 1 : last.offset;
  if (Math.floor(o.limit) <= 0 || from < b.sizeFirst) return done({ publications: [], more: false, bytes: 0 });
  const start = await locate(msgs, subject, last, from);
  return done(await collect(start, o, b.retained, (e) => msgs.bySeq(e.prev)));
}
