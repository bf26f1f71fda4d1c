import { ReplyError, type PresenceFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { assertCanSubscribe } from '../../../channels.ts';
import { reply } from '../replies.ts';

/** `presence`: who is subscribed to a channel (users, their info and connection counts). */
export async function handlePresence(ctx: Pick<CommandContext, 'channels' | 'tracker'>, conn: AuthenticatedConnection, frame: PresenceFrame): Promise<void> {
  const ch = ctx.channels.resolve(frame.channel);
  if (!conn.subscriptions.has(ch.name)) assertCanSubscribe(conn.identity, ch); // subscribed: already authorized (grants or hook)
  if (!ch.options.presence) throw new ReplyError('not_available', `presence is not enabled in namespace "${ch.namespace}"`);
  reply(conn, frame.id, { presence: await ctx.tracker.members(ch.name) });
}
