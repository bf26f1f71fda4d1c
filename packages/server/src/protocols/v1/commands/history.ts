import { ReplyError, type HistoryFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { assertCanSubscribe } from '../../../channels.ts';
import { reply } from '../replies.ts';
import { filteredPage, parseFilter } from '../../../subscriptions/filter.ts';

/**
 * `history`: pages through a channel's retained publications; needs subscribe permission.
 * A reply carries at most `limit` publications and at most the byte bound of
 * `HistoryReads` (`limits.maxReplayBytes`); `more: true` says further ones are retained in
 * that direction. With `filter`, only the matching ones of what was read, and `next`: the
 * position of the last one read (where the next page starts). The read starts only once this client has taken its earlier replies
 * (`whenWritable`), so pipelined reads never pile up in the outbound queue, and at most
 * `limits.historyReadsInFlight` reads run at once on the node.
 */
export async function handleHistory(ctx: Pick<CommandContext, 'channels' | 'config' | 'historyReads' | 'failures'>, conn: AuthenticatedConnection, frame: HistoryFrame): Promise<void> {
  const node = ctx;
  const ch = node.channels.resolve(frame.channel);
  if (!conn.subscriptions.has(ch.name)) assertCanSubscribe(conn.identity, ch); // subscribed: already authorized (grants or hook)
  if (!ch.history) throw new ReplyError('not_available', `channel ${ch.name} keeps no history`);
  const limit = Math.min(frame.limit ?? 100, node.config.limits.historyLimit);
  const filter = frame.filter !== undefined ? parseFilter(frame.filter) : undefined;
  await conn.whenWritable(node.historyReads.maxBytes);
  if (conn.state === 'closed') return;
  const r = await node.historyReads.read(ch.name, { since: frame.since, limit, reverse: frame.reverse, retention: ch.history }).catch((err: unknown) => {
    throw node.failures.unavailable(err, 'history read');
  });
  if (!r.recoverable) throw new ReplyError('unrecoverable_position', `position not retained; current is ${r.position.epoch}/${r.position.offset}`);
  reply(conn, frame.id, { epoch: r.position.epoch, offset: r.position.offset, ...filteredPage(r.publications, filter), ...(r.more ? { more: true } : {}) });
}
