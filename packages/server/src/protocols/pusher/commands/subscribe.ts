import { isValidUserId, type StreamPosition } from '@switchboard/protocol';
import type { AuthenticatedConnection, Subscription } from '../../../connection/connection.ts';
import type { CommandContext, SubscribeResult } from '../../command-context.ts';
import type { ResolvedChannel } from '../../../channels.ts';
import type { PresenceMemberOf } from '../../../subscriptions/subscriptions.ts';
import { sendReplay } from '../../v1/commands/replay.ts';
import { pusherChannel, type PusherChannel } from '../apps.ts';
import { verifyAuth } from '../signatures.ts';
import { sendPusher, subscriptionError, type PusherSession } from '../session.ts';
import type { PusherHooks } from '../hooks.ts';

type SubscribeContext = Pick<CommandContext, 'channels' | 'config' | 'historyReads' | 'failures' | 'subscriptions' | 'tracker' | 'access'>;

/** `since` of the recovery extension: `{epoch, offset}`, or undefined for anything else. */
function sinceOf(v: unknown): StreamPosition | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { epoch, offset } = v as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string' || epoch.length > 64 || !Number.isSafeInteger(offset) || (offset as number) < 0) return undefined;
  return { epoch, offset: offset as number };
}

/** The channel with the options a Pusher channel of its kind has: presence exactly on `presence-` channels. */
function asKind(ch: ResolvedChannel, pc: PusherChannel): ResolvedChannel {
  const presence = pc.kind === 'presence';
  if (ch.options.presence === presence && ch.options.joinLeave === presence) return ch;
  return { ...ch, options: { ...ch.options, presence, joinLeave: presence } };
}

/** The presence member of `channel_data` (`{user_id, user_info?}`), or an error text. */
function memberOf(channelData: unknown): PresenceMemberOf | string {
  if (typeof channelData !== 'string') return 'presence channels need channel_data';
  let d: unknown;
  try {
    d = JSON.parse(channelData);
  } catch {
    return 'channel_data is not JSON';
  }
  const o = (typeof d === 'object' && d !== null ? d : {}) as { user_id?: unknown; user_info?: unknown };
  const user = typeof o.user_id === 'number' && Number.isSafeInteger(o.user_id) ? String(o.user_id) : o.user_id;
  if (!isValidUserId(user)) return 'channel_data.user_id must be 1-128 of A-Z a-z 0-9 _ . @ = + -';
  return o.user_info !== undefined ? { user, info: o.user_info } : { user };
}

/**
 * `pusher:subscribe`: checks the channel's signature (private, encrypted, presence: HMAC of
 * `socket_id:channel[:channel_data]`), the presence member limit, the user channel's owner,
 * then subscribes through the subscription state machine and answers
 * `pusher_internal:subscription_succeeded` (presence: the members), the cached event or
 * `pusher:cache_miss` (cache channels), and the replay of the recovery extension (`since`).
 * Refusals are `pusher:subscription_error` (`{type, error, status}`), as Pusher sends them.
 */
export async function handleSubscribe(ctx: SubscribeContext, conn: AuthenticatedConnection, s: PusherSession, data: unknown, hooks: PusherHooks): Promise<void> {
  const d = (typeof data === 'object' && data !== null ? data : {}) as { channel?: unknown; auth?: unknown; channel_data?: unknown; since?: unknown };
  const name = typeof d.channel === 'string' ? d.channel.slice(0, 256) : '';
  const pc = pusherChannel(s.app, d.channel, ctx.config.limits.maxChannelLength);
  if (typeof pc === 'string') return subscriptionError(conn, name, 'InvalidChannel', pc, 400);
  let member: PresenceMemberOf | undefined;
  if (pc.kind === 'private' || pc.kind === 'encrypted') {
    if (!verifyAuth(s.app, `${s.socketId}:${pc.name}`, d.auth)) return subscriptionError(conn, pc.name, 'AuthError', `Invalid signature for ${pc.name}`, 401);
  } else if (pc.kind === 'presence') {
    if (typeof d.channel_data !== 'string' || !verifyAuth(s.app, `${s.socketId}:${pc.name}:${d.channel_data}`, d.auth)) {
      return subscriptionError(conn, pc.name, 'AuthError', `Invalid signature for ${pc.name}`, 401);
    }
    const m = memberOf(d.channel_data);
    if (typeof m === 'string') return subscriptionError(conn, pc.name, 'AuthError', m, 401);
    member = m;
  } else if (pc.kind === 'user' && s.user !== pc.user) {
    return subscriptionError(conn, pc.name, 'AuthError', `${pc.name} is only for the user signed in as ${pc.user}`, 403);
  }
  const ch = asKind(ctx.channels.resolve(pc.channel), pc);
  if (conn.subscriptions.has(ch.name)) return succeeded(ctx, conn, pc, member, {});
  if (conn.subscriptions.size >= ctx.config.limits.maxChannelsPerConnection) {
    return subscriptionError(conn, pc.name, 'LimitReached', `at most ${ctx.config.limits.maxChannelsPerConnection} channels per connection`, 4100);
  }
  if (member) {
    if ((await ctx.access.refusal(member.user, undefined)) === 'blocked') return subscriptionError(conn, pc.name, 'AuthError', 'this user is blocked', 403);
    const members = await ctx.tracker.members(ch.name);
    if (!Object.hasOwn(members, member.user) && Object.keys(members).length >= s.app.maxPresenceMembers) {
      return subscriptionError(conn, pc.name, 'LimitReached', `The maximum members per presence channel (${s.app.maxPresenceMembers}) was reached`, 4100);
    }
  }
  const since = ch.history ? sinceOf(d.since) : undefined;
  if (since || pc.cache) await conn.whenWritable(ctx.historyReads.maxBytes);
  if (conn.state !== 'ready' || conn.subscriptions.has(ch.name)) return;
  if (member) s.members.set(ch.name, member.user);
  const sub = await ctx.subscriptions.subscribe(conn, ch, { since, rewind: pc.cache && !since && ch.history ? 1 : 0, ...(member ? { member } : {}) }, async (sub, result) => {
    await succeeded(ctx, conn, pc, member, result);
    if (since) await sendReplay(ctx, sub, ch, result);
    else if (pc.cache) cached(conn, sub, pc, result, s, hooks);
  }).catch((err: unknown) => {
    s.members.delete(ch.name);
    throw err;
  });
  if (!sub) s.members.delete(ch.name);
}

/** `pusher_internal:subscription_succeeded`; with history, the extension fields `position` and `recovered`. */
async function succeeded(ctx: Pick<CommandContext, 'tracker'>, conn: AuthenticatedConnection, pc: PusherChannel, member: PresenceMemberOf | undefined, result: SubscribeResult): Promise<void> {
  let data: unknown = {};
  if (member) {
    const members = await ctx.tracker.members(pc.channel);
    const hash = Object.create(null) as Record<string, unknown>;
    for (const [id, u] of Object.entries(members)) hash[id] = u.info ?? null;
    if (!Object.hasOwn(hash, member.user)) hash[member.user] = member.info ?? null;
    const ids = Object.keys(hash);
    data = { presence: { ids, hash, count: ids.length } };
  }
  const frame: Record<string, unknown> = { event: 'pusher_internal:subscription_succeeded', channel: pc.name, data: JSON.stringify(data) };
  if (result.epoch !== undefined) frame.position = { epoch: result.epoch, offset: result.offset ?? 0 };
  if (result.recovered !== undefined) frame.recovered = result.recovered;
  sendPusher(conn, frame);
}

/** A cache channel's subscriber gets the last event (within the retention) or `pusher:cache_miss`. */
function cached(conn: AuthenticatedConnection, sub: Subscription, pc: PusherChannel, result: SubscribeResult, s: PusherSession, hooks: PusherHooks): void {
  const last = result.publications?.at(-1);
  if (last && sub.state !== 'closed') return conn.enqueue(conn.encoder.publication(last));
  sendPusher(conn, { event: 'pusher:cache_miss', channel: pc.name });
  hooks.cacheMiss(s.app, pc.name);
}

/** `pusher:unsubscribe`: leaves the channel (no answer, as in Pusher). */
export function handleUnsubscribe(ctx: Pick<CommandContext, 'config' | 'subscriptions'>, conn: AuthenticatedConnection, s: PusherSession, data: unknown): void {
  const d = (typeof data === 'object' && data !== null ? data : {}) as { channel?: unknown };
  const pc = pusherChannel(s.app, d.channel, ctx.config.limits.maxChannelLength);
  if (typeof pc === 'string') return;
  ctx.subscriptions.close(conn, pc.channel);
  s.members.delete(pc.channel);
}
