import { ReplyError, type PresenceFrame } from '@switchboard/protocol';
import type { Connection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../../connection/command-context.ts';
import { assertCanSubscribe } from '../../../channels.ts';
import { reply } from '../replies.ts';

/** `presence`: who is subscribed to a channel (users, their info and connection counts). */
export async function handlePresence(ctx: CommandContext, conn: Connection, frame: PresenceFrame): Promise<void> {
  const node = ctx;
  const ch = node.resolve(frame.channel);
  if (!conn.subscriptions.has(ch.name)) assertCanSubscribe(conn.identity!, ch); // subscribed: already authorized (grants or hook)
  if (!ch.options.presence) throw new ReplyError('not_available', `presence is not enabled in namespace "${ch.namespace}"`);
  reply(conn, frame.id, { presence: await node.presence(ch.name) });
}
