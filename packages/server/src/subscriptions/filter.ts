import { compileFilter, FilterError, ReplyError, type Publication, type StreamPosition, type TagFilter } from '@switchboard/protocol';

/**
 * A subscriber's or reader's `filter` compiled once (`compileFilter`); a filter that does not
 * parse is a `bad_request` naming the position, after `prefix` (the field, where the error
 * does not name it otherwise).
 */
export function parseFilter(source: string, prefix = 'filter: '): TagFilter {
  try {
    return compileFilter(source);
  } catch (err) {
    if (err instanceof FilterError) throw new ReplyError('bad_request', `${prefix}${err.message}`);
    throw err;
  }
}

/** The publications of a page that `filter` matches (all of them without one). */
export function filterPublications(pubs: Publication[], filter: TagFilter | undefined): Publication[] {
  return filter === undefined ? pubs : pubs.filter((p) => filter(p.tags));
}

/**
 * A history page as answered with a filter: the matching publications, and `next`, the
 * position of the last one read (matching or not), where the next page starts. Without a
 * filter: the page as it is.
 */
export function filteredPage(pubs: Publication[], filter: TagFilter | undefined): { publications: Publication[]; next?: StreamPosition } {
  if (filter === undefined) return { publications: pubs };
  const last = pubs.at(-1);
  const next = last?.epoch !== undefined && last.offset !== undefined ? { epoch: last.epoch, offset: last.offset } : undefined;
  return { publications: filterPublications(pubs, filter), ...(next ? { next } : {}) };
}
