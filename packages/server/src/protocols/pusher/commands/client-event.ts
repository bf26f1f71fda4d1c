import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { TokenBucket } from '../../../rate-limit.ts';
import { pusherChannel } from '../apps.ts';
import { PusherError } from '../codes.ts';
import { publicationData, textOf } from '../events.ts';
import { pusherError, type PusherMessage, type PusherSession } from '../session.ts';
import type { PusherHooks } from '../hooks.ts';

/** The longest event name (Pusher's). */
const MAX_EVENT_NAME = 200;

/**
 * A client event (`client-*`): only where the app allows them (`clientEvents`), only on
 * private and presence channels the connection is subscribed to, at most the app's
 * `clientEventsPerSecond` (else `pusher:error` 4301), data within `maxEventBytes`. Published
 * like any event (history where the namespace keeps it, every node), never to its sender;
 * on presence channels it carries the sender's `user_id`.
 */
export async function handleClientEvent(ctx: Pick<CommandContext, 'config' | 'channels' | 'publisher'>, conn: AuthenticatedConnection, s: PusherSession, msg: PusherMessage, hooks: PusherHooks): Promise<void> {
  const app = s.app;
  if (!app.clientEvents) return pusherError(conn, null, 'To send client events, enable clientEvents for this app');
  if (msg.event.length > MAX_EVENT_NAME) return pusherError(conn, null, `Client event rejected: event names are at most ${MAX_EVENT_NAME} characters`);
  const pc = pusherChannel(app, msg.channel, ctx.config.limits.maxChannelLength);
  if (typeof pc === 'string') return pusherError(conn, null, `Client event rejected: ${pc}`);
  if (pc.kind !== 'private' && pc.kind !== 'presence') return pusherError(conn, null, 'Client event rejected: only on private and presence channels');
  if (conn.subscriptions.get(pc.channel)?.state !== 'live') return pusherError(conn, null, `Client event rejected: not subscribed to ${pc.name}`);
  const text = textOf(msg.data);
  if (Buffer.byteLength(text) > app.maxEventBytes) return pusherError(conn, null, `Client event rejected: data over ${app.maxEventBytes} bytes`);
  const bucket = (s.clientEvents ??= new TokenBucket(app.clientEventsPerSecond, app.clientEventsPerSecond));
  if (!bucket.take()) return pusherError(conn, PusherError.client_event_rate, 'Client event rejected due to rate limit');
  const userId = pc.kind === 'presence' ? s.members.get(pc.channel) : undefined;
  await ctx.publisher.publish(ctx.channels.resolve(pc.channel), publicationData(msg.event, msg.data ?? null), {
    ...(userId !== undefined ? { from: userId } : {}), except: conn.id, publisher: `pusher:${app.id}`,
  });
  hooks.clientEvent(app, { channel: pc.name, event: msg.event, data: text, socketId: s.socketId, ...(userId !== undefined ? { userId } : {}) });
}
