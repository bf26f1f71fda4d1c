import { ReplyError, type UnsubscribeFrame } from '@switchboard/protocol';
import type { Connection } from '../connection.ts';

/** `unsubscribe`: leaves a channel; unsubscribing from a channel not subscribed is an error. */
export async function handleUnsubscribe(conn: Connection, frame: UnsubscribeFrame): Promise<void> {
  const ch = conn.node.resolve(frame.channel);
  if (!conn.node.unsubscribe(conn, ch.name)) throw new ReplyError('bad_request', `not subscribed to ${ch.name}`);
  conn.reply(frame.id);
}
