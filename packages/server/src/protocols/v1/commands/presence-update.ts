import { ReplyError, type PresenceUpdateFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { TokenBucket } from '../../../rate-limit.ts';
import { reply } from '../replies.ts';

/** Each connection's `presence_update` bucket (`limits.presenceUpdatesPerSecond`, burst 2x). */
const buckets = new WeakMap<AuthenticatedConnection, TokenBucket>();

/**
 * `presence_update`: sets this connection's presence info in a channel it is subscribed to, in
 * a namespace with `presence` and `presenceUpdates`. `info` is bounded
 * (`limits.maxPresenceInfoBytes`) and the command rate-limited per connection
 * (`limits.presenceUpdatesPerSecond`); the ack comes once the info is stored.
 */
export async function handlePresenceUpdate(ctx: Pick<CommandContext, 'channels' | 'config' | 'tracker'>, conn: AuthenticatedConnection, frame: PresenceUpdateFrame): Promise<void> {
  const ch = ctx.channels.resolve(frame.channel);
  if (!ch.options.presence || !ch.options.presenceUpdates) {
    throw new ReplyError('not_available', `presence updates are not enabled in namespace "${ch.namespace}" (presence and presenceUpdates)`);
  }
  if (!conn.subscriptions.has(ch.name)) throw new ReplyError('bad_request', `not subscribed to ${ch.name}`);
  const { limits } = ctx.config;
  const bytes = Buffer.byteLength(JSON.stringify(frame.info));
  if (bytes > limits.maxPresenceInfoBytes) throw new ReplyError('limit_exceeded', `presence_update: info is ${bytes} bytes, at most ${limits.maxPresenceInfoBytes} (limits.maxPresenceInfoBytes)`);
  let bucket = buckets.get(conn);
  if (!bucket) buckets.set(conn, (bucket = new TokenBucket(limits.presenceUpdatesPerSecond, limits.presenceUpdatesPerSecond * 2)));
  if (!bucket.take()) throw new ReplyError('too_many_requests', `at most ${limits.presenceUpdatesPerSecond} presence updates per second (limits.presenceUpdatesPerSecond)`, true);
  if (!(await ctx.tracker.update(conn, ch.name, frame.info))) throw new ReplyError('bad_request', `not in the presence of ${ch.name}`);
  reply(conn, frame.id, {});
}
