import { ReplyError, type RefreshFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { TokenError } from '../../../auth/jwt.ts';
import { refreshWithHook } from '../../../auth/hook-checks.ts';
import { reply } from '../replies.ts';

/**
 * `refresh`: a new token for the live connection (same user), no reconnect. New grants and
 * expiry apply at once; subscriptions the new grants no longer allow stay until the client
 * leaves them or the server API removes them. Without a token, the refresh hook decides
 * (connections authenticated by a cookie session through the connect hook).
 */
export async function handleRefresh(ctx: Pick<CommandContext, 'hooks' | 'jwt' | 'access'>, conn: AuthenticatedConnection, frame: RefreshFrame): Promise<void> {
  const id = conn.identity;
  if (id.anonymous) throw new ReplyError('bad_request', 'anonymous connections have no token to refresh');
  if (frame.token === undefined) {
    await refreshWithHook(ctx, conn);
    const exp = id.expiresAtMs;
    return reply(conn, frame.id, exp !== undefined ? { expiresAt: Math.floor(exp / 1000) } : {});
  }
  let claims;
  try {
    claims = await ctx.jwt.verify(frame.token);
  } catch (err) {
    if (err instanceof TokenError) throw new ReplyError(err.reason === 'token_expired' ? 'token_expired' : 'unauthorized', err.message);
    throw err;
  }
  if (claims.user !== id.user) throw new ReplyError('permission_denied', 'a refreshed token must be for the same user');
  const refusal = await ctx.access.refusal(claims.user, claims.issuedAt);
  if (refusal) throw new ReplyError('unauthorized', refusal === 'blocked' ? 'this user is blocked' : 'this token was revoked: get a new one');
  id.issuedAt = claims.issuedAt;
  id.expiresAtMs = claims.expiresAt !== undefined ? claims.expiresAt * 1000 : undefined;
  id.grants = { subscribe: claims.subscribe, publish: claims.publish };
  id.sendTo = claims.send;
  if (claims.info !== undefined) id.info = claims.info;
  conn.expiringNoticeSent = false;
  reply(conn, frame.id, { ...(claims.expiresAt !== undefined ? { expiresAt: claims.expiresAt } : {}) });
}
