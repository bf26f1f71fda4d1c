import { ReplyError } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../connection/connection.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ChannelResolver } from '../channels.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';
import type { Subscriptions } from './subscriptions.ts';

/** What server-side subscriptions use of the node. */
export interface ServerSubscriptionContext {
  config: Config;
  log: Logger;
  channels: ChannelResolver;
  subscriptions: Subscriptions;
  serverSubscriptions: ServerSubscriptionStore;
  failures: UnavailableReporter;
}
import { assertOwnerOnly, type ResolvedChannel } from '../channels.ts';

/**
 * Subscribes one local connection on the backend's behalf (`POST /api/subscribe`): no grant
 * or hook is asked (the backend decided), then a `subscribed` frame tells the client where
 * live delivery begins. Nothing happens for a connection that is closed, not authenticated,
 * already subscribed, or at `limits.maxChannelsPerConnection` (logged). Another user's
 * personal channel throws `permission_denied` (whoever asked: the API refuses it first, but a
 * control message from another node or an entry stored by an older version may still name it).
 */
export async function subscribeOnBehalf(node: Pick<ServerSubscriptionContext, 'config' | 'log' | 'subscriptions'>, conn: AuthenticatedConnection, ch: ResolvedChannel, persist: boolean): Promise<void> {
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
export function unsubscribeOnBehalf(node: Pick<ServerSubscriptionContext, 'subscriptions'>, conn: AuthenticatedConnection, channel: string): void {
  if (node.subscriptions.close(conn, channel)) conn.send({ type: 'unsubscribed', channel });
}

/**
 * A connection just authenticated: subscribes it to the user's persistent server-side
 * subscriptions (at most `limits.maxChannelsPerConnection`). A channel whose namespace is no
 * longer configured is skipped, another user's personal channel (stored by a version that did
 * not refuse it) is skipped and forgotten; a store failure is logged and the connection stays.
 */
export async function subscribePersisted(node: ServerSubscriptionContext, conn: AuthenticatedConnection): Promise<void> {
  let channels: string[];
  try {
    channels = await node.serverSubscriptions.list(conn.user, node.config.limits.maxChannelsPerConnection);
  } catch (err) {
    node.failures.report(err, 'server-side subscriptions read');
    return;
  }
  for (const name of channels) {
    let ch: ResolvedChannel;
    try {
      ch = node.channels.resolve(name);
    } catch (err) {
      if (err instanceof ReplyError) continue;
      throw err;
    }
    if (ch.owner !== undefined && ch.owner !== conn.user) {
      await node.serverSubscriptions.remove(conn.user, name).catch((err: unknown) => node.failures.report(err, 'server-side subscriptions write'));
      continue;
    }
    try {
      await subscribeOnBehalf(node, conn, ch, true);
    } catch (err) {
      if (!(err instanceof ReplyError)) node.failures.report(err, 'persistent server-side subscription');
    }
  }
}
