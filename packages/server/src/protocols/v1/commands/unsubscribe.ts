import { ReplyError, type UnsubscribeFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { reply } from '../replies.ts';

/** `unsubscribe`: leaves a channel; unsubscribing from a channel not subscribed is an error. */
export async function handleUnsubscribe(ctx: Pick<CommandContext, 'channels' | 'subscriptions'>, conn: AuthenticatedConnection, frame: UnsubscribeFrame): Promise<void> {
  const ch = ctx.channels.resolve(frame.channel);
  if (!ctx.subscriptions.close(conn, ch.name)) throw new ReplyError('bad_request', `not subscribed to ${ch.name}`);
  reply(conn, frame.id);
}
