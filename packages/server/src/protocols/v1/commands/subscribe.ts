import { ReplyError, type SubscribeFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { adoptAutoSubscription, isAutoSubscription } from '../../../direct/personal-channel.ts';
import { assertCanSubscribe, type ResolvedChannel } from '../../../channels.ts';
import { sendReplay } from './replay.ts';
import { authorizeSubscribe } from '../../../auth/hook-checks.ts';
import { reply } from '../replies.ts';
import { parseFilter } from '../../../subscriptions/filter.ts';

/** `rewind` checked: 0 when absent; bad_request without history, limit_exceeded past `limits.maxRewind`. */
function checkRewind(ctx: Pick<CommandContext, 'config'>, ch: ResolvedChannel, rewind: number | undefined): number {
  if (rewind === undefined || rewind === 0) return 0;
  if (!ch.history) throw new ReplyError('bad_request', `channel ${ch.name} keeps no history to rewind`);
  const max = ctx.config.limits.maxRewind;
  if (rewind > max) throw new ReplyError('limit_exceeded', `rewind: at most ${max} publications (limits.maxRewind)`);
  return rewind;
}

/**
 * Whether a subscribe that asked for `delta` gets it: only on namespaces configured with the
 * same format (elsewhere the subscription carries full data and the ack says `delta: false`).
 */
function deltaGranted(ch: ResolvedChannel, frame: SubscribeFrame): boolean | undefined {
  if (frame.delta === undefined) return undefined;
  // A filtered or conflated subscription skips publications: it carries full data.
  return frame.filter === undefined && ch.options.conflation === null && ch.options.delta === frame.delta;
}

/** `subscribe`: checks permission and limits, joins the channel, recovers from `since`. */
export async function handleSubscribe(
  ctx: Pick<CommandContext, 'channels' | 'config' | 'historyReads' | 'failures' | 'hooks' | 'sso' | 'subscriptions'>,
  conn: AuthenticatedConnection, frame: SubscribeFrame,
): Promise<void> {
  const node = ctx;
  const ch = node.channels.resolve(frame.channel);
  if (frame.since && !ch.history) throw new ReplyError('bad_request', `channel ${ch.name} keeps no history to recover from`);
  const rewind = checkRewind(ctx, ch, frame.rewind);
  const filter = frame.filter !== undefined ? parseFilter(frame.filter) : undefined;
  const delta = deltaGranted(ch, frame);
  const granted = delta === undefined ? {} : { delta };
  if (frame.since || rewind > 0) {
    // Its ack carries up to a page of history: the next such read waits until this client
    // took the previous one, so resubscribing many channels at once never fills the queue.
    await conn.whenWritable(ctx.historyReads.maxBytes);
    if (conn.state !== 'ready') return;
  }
  if (conn.subscriptions.has(ch.name)) {
    assertCanSubscribe(conn.identity, ch);
    if (filter) throw new ReplyError('bad_request', `filter: ${ch.name} is already subscribed (automatically or by an earlier subscribe); a filter is given with the first subscribe`);
    // The automatic subscription already delivers live messages: what came before them can
    // only ride in the ack, which a subscribe without `id` does not get. Say so, keep the
    // automatic subscription as it is (a retry with an `id` still replays).
    if (frame.id === undefined && (frame.since || rewind > 0) && isAutoSubscription(conn, ch.name)) {
      throw new ReplyError('bad_request', `${ch.name} is already subscribed automatically: send this subscribe with an id (its ack carries the replay)`);
    }
    const adopted = await adoptAutoSubscription(ctx, conn, ch, frame.since, rewind);
    if (!adopted) throw new ReplyError('bad_request', `already subscribed to ${ch.name}`);
    const sub = conn.subscriptions.get(ch.name);
    if (delta && sub) node.subscriptions.enableDelta(sub);
    reply(conn, frame.id, { ...adopted, ...granted });
    return;
  }
  if (conn.subscriptions.size >= node.config.limits.maxChannelsPerConnection) {
    throw new ReplyError('limit_exceeded', `at most ${node.config.limits.maxChannelsPerConnection} channels per connection`);
  }
  await authorizeSubscribe(ctx, conn, ch);
  if (conn.state !== 'ready' || conn.subscriptions.has(ch.name)) return; // closed (or subscribed) while a hook answered
  await node.sso.enterNamespace(conn, ch.namespace);
  try {
    await node.subscriptions.subscribe(conn, ch, { since: frame.since, rewind, delta: delta === true, ...(filter ? { filter } : {}) }, async (sub, result) => {
      if (frame.id !== undefined) reply(conn, frame.id, { ...result, ...granted });
      // Without an id there is no ack to carry the replay (or rewind): it goes out as messages
      // instead, paced page by page; live ones are held until it is done.
      else await sendReplay(ctx, sub, ch, result);
    });
  } finally {
    node.sso.settle(conn, ch.namespace);
  }
}
