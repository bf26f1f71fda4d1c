import { CloseCode, Disconnect, type Publication } from '@switchboard/protocol';
import type { Subscription } from '../../../connection/connection.ts';
import type { CommandContext, SubscribeResult } from '../../command-context.ts';
import type { ResolvedChannel } from '../../../channels.ts';
import { filterPublications } from '../../../subscriptions/filter.ts';

/**
 * A recovery without `id` has no ack to carry the replay: it goes out as `message` frames,
 * page by page (`result` holds the first, cut at the byte bound when `more`). Each further
 * page is read only once the client took the previous one (`Connection.whenWritable`), so the
 * replay never fills the outbound queue, however long it is. Live publications wait in the
 * subscription's buffer meanwhile and follow past `result.offset` (when it goes live): a client
 * that cannot take even those (more than `limits.maxQueueBytes` of them held) is a slow
 * consumer (`3008`). A replay that becomes unrecoverable midway (retention, a reset stream)
 * stops there, like a failed recovery without `id`: live delivery follows.
 */
export async function sendReplay(ctx: Pick<CommandContext, 'historyReads' | 'config' | 'failures'>, sub: Subscription, ch: ResolvedChannel, result: SubscribeResult): Promise<void> {
  const { conn } = sub;
  const top = result.offset ?? 0;
  let pubs: Publication[] = result.publications ?? [];
  let next = result.more ? result.next : undefined;
  for (;;) {
    for (const pub of pubs) conn.enqueue(conn.encoder.publication(pub));
    if (!next || !ch.history) return;
    await conn.whenWritable(ctx.historyReads.maxBytes);
    if (sub.state === 'closed') return;
    if (sub.bufferedBytes > ctx.config.limits.maxQueueBytes) {
      conn.terminate(new Disconnect(CloseCode.slow_consumer, 'slow_consumer'));
      return;
    }
    let read;
    try {
      read = await ctx.historyReads.read(ch.name, { since: next, limit: ch.history.size, retention: ch.history });
    } catch (err) {
      ctx.failures.report(err, 'history read');
      return;
    }
    if (!read.recoverable || read.position.epoch !== next.epoch) return;
    const page = read.publications.filter((p) => p.offset! <= top);
    pubs = filterPublications(page, sub.filter);
    const last = page.at(-1);
    next = last && last.offset! < top && read.more ? { epoch: next.epoch, offset: last.offset! } : undefined;
  }
}
