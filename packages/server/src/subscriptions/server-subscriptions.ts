import { ReplyError } from '@switchboard/protocol';
import type { Connection } from '../connection/connection.ts';
import type { CommandContext } from '../connection/command-context.ts';
import { assertOwnerOnly, type ResolvedChannel } from '../channels.ts';

/**
 * Subscribes one local connection on the backend's behalf (`POST /api/subscribe`): no grant
 * or hook is asked (the backend decided), then a `subscribed` frame tells the client where
 * live delivery begins. Nothing happens for a connection that is closed, not authenticated,
 * already subscribed, or at `limits.maxChannelsPerConnection` (logged). Another user's
 * personal channel throws `permission_denied` (whoever asked: the API refuses it first, but a
 * control message from another node or an entry stored by an older version may still name it).
 */
export async function subscribeOnBehalf(node: CommandContext, conn: Connection, ch: ResolvedChannel, persist: boolean): Promise<void> {
  if (conn.state !== 'ready') return;
  assertOwnerOnly(conn.user, ch);
  if (conn.subscriptions.has(ch.name)) return;
  if (conn.subscriptions.size >= node.config.limits.maxChannelsPerConnection) {
    node.log.warn({ client: conn.id, channel: ch.name }, 'server-side subscription skipped: connection at limits.maxChannelsPerConnection');
    return;
  }
  await node.subscriptions.subscribe(conn, ch, {}, (_sub, result) => conn.send({
    type: 'subscribed', channel: ch.name,
    ...(result.epoch !== undefined ? { epoch: result.epoch, offset: result.offset ?? 0 } : {}),
    persist,
  }));
}

/** Removes a server-side (or any) subscription of a local connection and tells it with `unsubscribed`. */
export function unsubscribeOnBehalf(node: CommandContext, conn: Connection, channel: string): void {
  if (node.subscriptions.close(conn, channel)) conn.send({ type: 'unsubscribed', channel });
}

/**
 * A connection just authenticated: subscribes it to the user's persistent server-side
 * subscriptions (at most `limits.maxChannelsPerConnection`). A channel whose namespace is no
 * longer configured is skipped, another user's personal channel (stored by a version that did
 * not refuse it) is skipped and forgotten; a store failure is logged and the connection stays.
 */
export async function subscribePersisted(node: CommandContext, conn: Connection): Promise<void> {
  let channels: string[];
  try {
    channels = await node.serverSubscriptions.list(conn.user!, node.config.limits.maxChannelsPerConnection);
  } catch (err) {
    node.failures.report(err, 'server-side subscriptions read');
    return;
  }
  for (const name of channels) {
    let ch: ResolvedChannel;
    try {
      ch = node.resolve(name);
    } catch (err) {
      if (err instanceof ReplyError) continue;
      throw err;
    }
    if (ch.owner !== undefined && ch.owner !== conn.user) {
      await node.serverSubscriptions.remove(conn.user!, name).catch((err: unknown) => node.failures.report(err, 'server-side subscriptions write'));
      continue;
    }
    try {
      await subscribeOnBehalf(node, conn, ch, true);
    } catch (err) {
      if (!(err instanceof ReplyError)) node.failures.report(err, 'persistent server-side subscription');
    }
  }
}
