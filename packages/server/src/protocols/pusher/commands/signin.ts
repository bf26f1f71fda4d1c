import { Disconnect, isValidUserId } from '@switchboard/protocol';
import type { AuthenticatedConnection, Identity } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { AuthRefused, identifyGuest } from '../../../auth/admission.ts';
import { limited } from '../../../log-limit.ts';
import { PusherClose } from '../codes.ts';
import { verifyAuth } from '../signatures.ts';
import { sendPusher, type PusherSession } from '../session.ts';

/** Users one watchlist may name (Pusher's limit). */
const MAX_WATCHLIST = 100;

/**
 * `pusher:signin` (user authentication): `auth` is the HMAC of `socket_id::user::user_data`;
 * `user_data` a JSON object with an `id` (a Switchboard user id) and optional `user_info`.
 * The connection becomes that user (blocks, `terminate_connections`, the user's channel
 * `#server-to-user-<id>`, user presence) and gets `pusher:signin_success`; its `watchlist`
 * (up to 100 user ids) gets `pusher_internal:watchlist_events` (who is online now, then each
 * `online`/`offline`). A bad signature
 * or user closes it `4009`, as Pusher does.
 */
export async function handleSignin(ctx: Pick<CommandContext, 'access' | 'hub' | 'tracker' | 'failures' | 'log'>, conn: AuthenticatedConnection, s: PusherSession, data: unknown): Promise<void> {
  const d = (typeof data === 'object' && data !== null ? data : {}) as { auth?: unknown; user_data?: unknown };
  const refuse = (why: string) => {
    limited(ctx.log).info({ client: conn.id, ip: conn.upgrade.ip, reason: why }, 'pusher signin refused');
    conn.terminate(new Disconnect(PusherClose.unauthorized, why));
  };
  if (typeof d.user_data !== 'string' || !verifyAuth(s.app, `${s.socketId}::user::${d.user_data}`, d.auth)) return refuse('Invalid signature');
  let user: unknown;
  let info: unknown;
  let watchlist: string[] = [];
  try {
    const u = JSON.parse(d.user_data) as { id?: unknown; user_info?: unknown; watchlist?: unknown };
    user = typeof u.id === 'number' && Number.isSafeInteger(u.id) ? String(u.id) : u.id;
    info = u.user_info;
    if (u.watchlist !== undefined) {
      if (!Array.isArray(u.watchlist) || u.watchlist.length > MAX_WATCHLIST) return refuse(`user_data.watchlist: at most ${MAX_WATCHLIST} user ids`);
      watchlist = [...new Set(u.watchlist.map((w) => (typeof w === 'number' && Number.isSafeInteger(w) ? String(w) : w)).filter(isValidUserId))];
    }
  } catch {
    return refuse('user_data is not JSON');
  }
  if (!isValidUserId(user)) return refuse('user_data.id must be 1-128 of A-Z a-z 0-9 _ . @ = + -');
  if (s.user !== undefined) return refuse('already signed in');
  const identity: Identity = {
    user, session: '', login: s.socketId, anonymous: false, info, expiresAtMs: undefined, grants: { subscribe: [], publish: [] },
  };
  try {
    if (!(await identifyGuest(ctx, conn, identity))) return;
  } catch (err) {
    if (err instanceof AuthRefused) return refuse(err.message);
    throw err;
  }
  s.user = user;
  sendPusher(conn, { event: 'pusher:signin_success', data: JSON.stringify({ user_data: d.user_data }) });
  // The watchlist: who of it is online now, then each change (the tracker sends them).
  const online = await ctx.tracker.watch(conn, watchlist);
  if (online.length > 0) sendPusher(conn, { event: 'pusher_internal:watchlist_events', data: JSON.stringify({ events: [{ name: 'online', user_ids: online }] }) });
}
