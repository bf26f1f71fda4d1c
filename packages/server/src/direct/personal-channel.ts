import {
  ReplyError, isGranted, isValidUserId, personalChannel,
  type StreamPosition,
} from '@switchboard/protocol';
import type { AuthenticatedConnection, Connection } from '../connection/connection.ts';
import type { Config } from '../config.ts';
import type { ChannelResolver } from '../channels.ts';
import type { HistoryReads } from '../history/history-reads.ts';
import type { Subscriptions } from '../subscriptions/subscriptions.ts';
import type { ResolvedChannel } from '../channels.ts';
import { readRewind } from '../history/rewind.ts';

/** The user's personal channel when connections are subscribed to it on authentication. */
export function autoPersonalChannel(ctx: { channels: ChannelResolver }, conn: AuthenticatedConnection): ResolvedChannel | undefined {
  if (ctx.channels.namespace('#')?.autoSubscribe === false) return undefined;
  return ctx.channels.resolve(personalChannel(conn.user));
}

/**
 * Subscribes a newly authenticated connection to its own `#<userId>`: everything published
 * there from now on is delivered live. Remembers where live delivery began, so that a later
 * explicit `subscribe` with `since` replays exactly what came before it (see `adoptAutoSubscription`).
 */
export async function autoSubscribePersonal(ctx: { subscriptions: Subscriptions }, conn: AuthenticatedConnection, ch: ResolvedChannel): Promise<void> {
  await ctx.subscriptions.subscribe(conn, ch, {}, (sub, result) => {
    sub.auto = { epoch: result.epoch, offset: result.offset };
  });
}

/**
 * An explicit `subscribe` to the personal channel the connection was auto-subscribed to.
 * Answers what the `ack` carries, or undefined when this is not that case (then "already
 * subscribed" stands).
 *
 * The ack's `offset` is where live delivery began; with `since`, `publications` are the
 * retained ones after `since` up to that offset. Everything after it is delivered live (some
 * of it may already have arrived before this ack), so each publication reaches the
 * connection exactly once. With `rewind` (and no `since`), `publications` are the last
 * `rewind` retained ones up to that offset.
 */
export async function adoptAutoSubscription(ctx: { historyReads: HistoryReads; config: Config }, conn: Connection, ch: ResolvedChannel, since: StreamPosition | undefined, rewind = 0): Promise<Record<string, unknown> | undefined> {
  const sub = conn.subscriptions.get(ch.name);
  const a = sub?.auto;
  if (!sub || !a) return undefined;
  sub.auto = undefined;
  if (!ch.history || a.epoch === undefined || a.offset === undefined) return {};
  const start = { epoch: a.epoch, offset: a.offset };
  if (!since && rewind > 0) {
    // The last `rewind` publications up to where live delivery began (a new device sees recent private messages).
    const back = await readRewind(ctx.historyReads, ch.name, { count: rewind, maxBytes: ctx.config.limits.maxRewindBytes, retention: ch.history, upTo: start });
    return { ...start, publications: back.publications };
  }
  if (!since) return start;
  const read = await ctx.historyReads.read(ch.name, { since, limit: ch.history.size, retention: ch.history });
  if (!read.recoverable || read.position.epoch !== a.epoch) return { ...start, recovered: false, publications: [] };
  const publications = read.publications.filter((p) => p.offset! <= a.offset!);
  // Cut at the byte bound before live delivery began: the client pages the rest with `history`.
  const last = publications.at(-1);
  const more = read.more && last !== undefined && last.offset! < a.offset;
  return { ...start, recovered: true, publications, ...(more ? { more: true, next: { epoch: a.epoch, offset: last.offset! } } : {}) };
}

/** True while `channel` is this connection's automatic personal subscription, not yet adopted by a `subscribe`. */
export function isAutoSubscription(conn: Connection, channel: string): boolean {
  return conn.subscriptions.get(channel)?.auto !== undefined;
}

/**
 * Throws unless this connection may `send` to `to`: `to` must be a user id, the `#`
 * namespace must allow `directMessages`, and when the token carries a `send` claim (user
 * id patterns, `*` wildcard), `to` must match one of them. Sending to oneself is allowed
 * whenever direct messages are. Returns the recipient's personal channel.
 */
export function assertCanSend(ctx: { channels: ChannelResolver }, conn: AuthenticatedConnection, to: unknown): ResolvedChannel {
  if (!isValidUserId(to)) throw new ReplyError('bad_request', 'to must be a user id');
  const target = ctx.channels.resolve(personalChannel(to));
  if (!target.options.directMessages) throw new ReplyError('permission_denied', 'private messages are disabled');
  const id = conn.identity;
  if (id.sendTo !== undefined && to !== id.user && !isGranted(id.sendTo, to)) {
    throw new ReplyError('permission_denied', `no grant to send to ${to}`);
  }
  return target;
}
