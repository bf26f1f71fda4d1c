import { AuthFailure, ReplyError, isValidUserId, type AuthFrame } from '@switchboard/protocol';
import type { Connection, Identity } from '../../../connection/connection.ts';
import type { AdmissionContext } from '../../../auth/admission.ts';
import type { CommandContext } from '../../command-context.ts';
import { TokenError, type TokenClaims } from '../../../auth/jwt.ts';
import { isSessionIdShape } from '../../../session/session-id.ts';
import type { Session } from '../../../session/session-store.ts';
import { HookDenied } from '../../../auth/hooks.ts';
import { limited } from '../../../log-limit.ts';
import { AuthRefused, admitConnection } from '../../../auth/admission.ts';
import { connectWithHook, usesConnectHook } from '../../../auth/hook-checks.ts';
import { sendV1 } from '../replies.ts';

/**
 * `auth`: a token (JWT), or a name where anonymous access is allowed, optionally with a
 * session id to resume. Answers `auth_success`, or `auth_failed` and closes.
 *
 * Then: single sign-on (the deployment's login limit, and the `#` namespace's when the
 * connection is auto-subscribed to its personal channel; refused: `session_limit`), the
 * user's `online`, and the automatic subscription to `#<userId>`.
 */
export async function handleAuth(ctx: AdmissionContext & Pick<CommandContext, 'jwt' | 'hooks' | 'sessions'>, conn: Connection, frame: AuthFrame): Promise<void> {
  if (conn.state !== 'auth_pending') throw new ReplyError('bad_request', 'already authenticated; use "refresh" to present a new token');
  const node = ctx;
  try {
    const who = await identify(ctx, conn, frame);
    // A store failure (Redis outage) answers a temporary error; the client retries.
    const unavailable = (err: unknown): never => {
      throw err instanceof AuthRefused ? err : ctx.failures.unavailable(err, 'auth');
    };
    // Before single sign-on: a blocked user or a revoked token must never kick a live login.
    const accessChanges = ctx.access.changes;
    const refusal = await ctx.access.refusal(who.user, who.issuedAt);
    if (refusal === 'blocked') throw new AuthRefused('blocked', 'this user is blocked');
    if (refusal === 'token_revoked') throw new AuthRefused('token_revoked', 'this token was revoked: get a new one');
    const session = await resolveSession(ctx, who.user, frame.session ?? conn.upgrade.session).catch(unavailable);
    const identity: Identity = {
      user: who.user,
      session: session.id,
      login: who.sid ?? session.id,
      anonymous: who.anonymous,
      info: who.info,
      expiresAtMs: who.expiresAt !== undefined ? who.expiresAt * 1000 : undefined,
      grants: { subscribe: who.subscribe, publish: who.publish },
      ...(who.send !== undefined ? { sendTo: who.send } : {}),
      ...(who.issuedAt !== undefined ? { issuedAt: who.issuedAt } : {}),
    };
    await admitConnection(ctx, conn, identity, {
      accessChanges,
      announce: (ready) => {
        sendV1(ready, {
          type: 'auth_success',
          client: ready.id,
          session: session.id,
          user: identity.user,
          ...(who.expiresAt !== undefined ? { expiresAt: who.expiresAt } : {}),
          ping: Math.round(ctx.config.heartbeat.intervalMs / 1000),
          permissions: identity.grants,
          resumed: session.resumed,
          ...(who.info !== undefined ? { info: who.info } : {}),
        });
        ctx.log.debug({ client: ready.id, user: identity.user, resumed: session.resumed }, 'authenticated');
      },
    });
  } catch (err) {
    if (err instanceof AuthRefused) {
      limited(node.log).info({ client: conn.id, ip: conn.upgrade.ip, reason: err.reason }, 'authentication refused');
      conn.rejectAuth(AuthFailure[err.reason], err.reason);
      return;
    }
    if (err instanceof HookDenied) {
      limited(node.log).info({ client: conn.id, ip: conn.upgrade.ip, reason: err.reason, code: err.code }, 'connect hook refused authentication');
      conn.rejectAuth(err.code, err.reason);
      return;
    }
    throw err;
  }
}

interface Who extends TokenClaims {
  anonymous: boolean;
}

async function identify(ctx: Pick<CommandContext, 'config' | 'hooks' | 'jwt' | 'sessions'>, conn: Connection, frame: AuthFrame): Promise<Who> {
  const node = ctx;
  const auth = node.config.auth;
  if (usesConnectHook(ctx, conn, frame)) {
    const claims = await connectWithHook(ctx, conn, frame);
    if (claims) return { ...claims, anonymous: false };
  }
  if (frame.token !== undefined) {
    try {
      return { ...(await node.jwt.verify(frame.token)), anonymous: false };
    } catch (err) {
      if (err instanceof TokenError) throw new AuthRefused(err.reason, err.message);
      throw err;
    }
  }
  if (auth.allowAnonymous) {
    let user = frame.name;
    if (user === undefined && frame.session !== undefined && isSessionIdShape(frame.session)) {
      user = (await node.sessions.get(frame.session))?.user;
    }
    if (user === undefined) throw new AuthRefused('bad_request', 'anonymous auth needs a "name"');
    if (!isValidUserId(user)) throw new AuthRefused('bad_request', 'name must be 1-128 of A-Z a-z 0-9 _ . @ = + -');
    return { user, expiresAt: undefined, sid: undefined, subscribe: [], publish: [], info: undefined, anonymous: true };
  }
  throw new AuthRefused('unauthorized', 'no credentials: send a token');
}

async function resolveSession(ctx: Pick<CommandContext, 'config' | 'sessions'>, user: string, presented: string | undefined): Promise<Session & { resumed: boolean }> {
  const { sessions, config } = ctx;
  const ttl = config.sessions.idleTtl;
  if (presented !== undefined && isSessionIdShape(presented)) {
    const s = await sessions.get(presented);
    if (s && s.user !== user) throw new AuthRefused('session_rejected', 'the session belongs to another user');
    if (s) {
      await sessions.touch(s.id, ttl);
      return { ...s, resumed: true };
    }
  }
  return { ...(await sessions.create(user, ttl)), resumed: false };
}
