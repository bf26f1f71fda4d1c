import { ReplyError, type SubscribeFrame } from '@switchboard/protocol';
import type { Connection } from '../connection.ts';
import { authorizeSubscribe } from '../../auth/hook-checks.ts';

/** `subscribe`: checks permission and limits, joins the channel, recovers from `since`. */
export async function handleSubscribe(conn: Connection, frame: SubscribeFrame): Promise<void> {
  const node = conn.node;
  const ch = node.resolve(frame.channel);
  if (conn.subscriptions.has(ch.name)) throw new ReplyError('bad_request', `already subscribed to ${ch.name}`);
  if (conn.subscriptions.size >= node.config.limits.maxChannelsPerConnection) {
    throw new ReplyError('limit_exceeded', `at most ${node.config.limits.maxChannelsPerConnection} channels per connection`);
  }
  if (frame.since && !ch.history) throw new ReplyError('bad_request', `channel ${ch.name} keeps no history to recover from`);
  await authorizeSubscribe(conn, ch);
  if (conn.state !== 'ready' || conn.subscriptions.has(ch.name)) return; // closed (or subscribed) while a hook answered
  const result = await node.subscribe(conn, ch, frame.since);
  if (!conn.subscriptions.has(ch.name)) return; // closed or unsubscribed meanwhile
  if (frame.id !== undefined) conn.reply(frame.id, result as Record<string, unknown>);
  node.releaseBuffer(conn, ch.name, result.publications?.length ? result.publications.at(-1)!.offset! : (result.offset ?? 0));
}
