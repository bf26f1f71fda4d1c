import { CloseCode, Disconnect, ReplyError, type AuthFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection, Connection } from '../connection/connection.ts';
import type { BackendHooks } from './hooks.ts';
import type { JwtVerifier } from './jwt.ts';

/** What the hook checks use: the backend hooks (and, for `auth`, whether tokens are verified here). */
interface HookContext {
  hooks: BackendHooks;
}
import { assertCanPublish, assertCanSubscribe, type ResolvedChannel } from '../channels.ts';
import type { TokenClaims } from './jwt.ts';
import { HookDenied, type HookName, type HookOutcome, type HookRequestBase } from './hooks.ts';

/**
 * Where the connection commands meet the backend hooks: each function asks the hook when it
 * is configured and applies its `onError` policy, and does the usual check when it is not.
 */

function base(ctx: HookContext, conn: Connection, name: HookName): HookRequestBase {
  const u = conn.upgrade;
  return {
    client: conn.id,
    ip: u.ip,
    headers: ctx.hooks.headersFor(name, u.headers),
    ...(u.origin !== undefined ? { origin: u.origin } : {}),
    ...(u.userAgent !== undefined ? { userAgent: u.userAgent } : {}),
  };
}

function userPart(conn: AuthenticatedConnection): { user: string; info?: unknown } {
  const id = conn.identity;
  return { user: id.user, ...(id.info !== undefined ? { info: id.info } : {}) };
}

/** A denial or an `onError: deny` failure of a command hook, as what the handler throws. */
function refusal(outcome: HookOutcome<HookName>): ReplyError | Disconnect | undefined {
  if (outcome.kind === 'deny') {
    return outcome.code !== undefined ? new Disconnect(outcome.code, outcome.reason) : new ReplyError('permission_denied', outcome.reason);
  }
  if (outcome.kind === 'failed' && outcome.onError === 'deny') {
    return new ReplyError('internal', 'the application backend did not answer; try again');
  }
  return undefined;
}

/** True when `auth` should ask the connect hook: no token, or a token the gateway cannot verify itself. */
export function usesConnectHook(ctx: HookContext & { jwt: JwtVerifier }, conn: Connection, frame: AuthFrame): boolean {
  return ctx.hooks.has('connect') && (frame.token === undefined || !ctx.jwt.enabled);
}

/**
 * Authenticates through the connect hook. Resolves with the identity the backend gave, or
 * undefined when the backend failed and `onError` is `allow` (the other methods then apply).
 * Throws HookDenied on a denial (default code 3500) or an `onError: deny` failure (3000, temporary).
 */
export async function connectWithHook(ctx: HookContext, conn: Connection, frame: AuthFrame): Promise<TokenClaims | undefined> {
  const session = frame.session ?? conn.upgrade.session;
  const outcome = await ctx.hooks.call('connect', {
    hook: 'connect', ...base(ctx, conn, 'connect'),
    ...(session !== undefined ? { session } : {}),
    ...(frame.name !== undefined ? { name: frame.name } : {}),
    ...(frame.token !== undefined ? { token: frame.token } : {}),
  });
  switch (outcome.kind) {
    case 'allow': {
      const v = outcome.value;
      return { user: v.user, expiresAt: v.expiresAt, sid: undefined, subscribe: v.subscribe ?? [], publish: v.publish ?? [], info: v.info };
    }
    case 'deny':
      throw new HookDenied(outcome.code ?? CloseCode.invalid_token, outcome.reason);
    case 'failed':
      if (outcome.onError === 'allow') return undefined;
      throw new HookDenied(CloseCode.reconnect, 'backend_unavailable');
    default: {
      const never: never = outcome;
      throw new Error(`unknown hook outcome ${JSON.stringify(never)}`);
    }
  }
}

/**
 * May the connection subscribe? Personal channels: only their owner (the hook is not asked).
 * With a subscribe hook the backend decides instead of token grants and `allowSubscribe`.
 */
export async function authorizeSubscribe(ctx: HookContext, conn: AuthenticatedConnection, ch: ResolvedChannel): Promise<void> {
  if (ch.owner !== undefined || !ctx.hooks.has('subscribe')) return assertCanSubscribe(conn.identity, ch);
  const outcome = await ctx.hooks.call('subscribe', { hook: 'subscribe', ...base(ctx, conn, 'subscribe'), ...userPart(conn), channel: ch.name });
  const refused = refusal(outcome);
  if (refused) throw refused;
}

/**
 * May the connection publish `data` to `ch`? Resolves with the data to publish (a publish hook
 * may replace it). Personal channels and namespaces without `clientPublish` are refused first;
 * with a publish hook the backend decides instead of token grants and `allowPublish`.
 */
export async function authorizePublish(ctx: HookContext, conn: AuthenticatedConnection, ch: ResolvedChannel, data: unknown): Promise<unknown> {
  if (ch.owner !== undefined || !ch.options.clientPublish || !ctx.hooks.has('publish')) {
    assertCanPublish(conn.identity, ch);
    return data;
  }
  return askPublishHook(ctx, conn, ch, data);
}

/** A private message (`send`) to `#<to>`: the publish hook, when configured, sees it and may replace its data. */
export async function filterSend(ctx: HookContext, conn: AuthenticatedConnection, ch: ResolvedChannel, data: unknown): Promise<unknown> {
  if (!ctx.hooks.has('publish')) return data;
  return askPublishHook(ctx, conn, ch, data);
}

async function askPublishHook(ctx: HookContext, conn: AuthenticatedConnection, ch: ResolvedChannel, data: unknown): Promise<unknown> {
  const outcome = await ctx.hooks.call('publish', { hook: 'publish', ...base(ctx, conn, 'publish'), ...userPart(conn), channel: ch.name, data });
  const refused = refusal(outcome);
  if (refused) throw refused;
  return outcome.kind === 'allow' && outcome.value.dataReplaced ? outcome.value.data : data;
}

/**
 * `refresh` without a token: the refresh hook re-validates the connection (e.g. its cookie
 * session) and may extend its expiry and change its info and grants.
 */
export async function refreshWithHook(ctx: HookContext, conn: AuthenticatedConnection): Promise<void> {
  if (!ctx.hooks.has('refresh')) throw new ReplyError('bad_request', 'refresh needs a token (no refresh hook is configured)');
  const identity = conn.identity;
  const outcome = await ctx.hooks.call('refresh', {
    hook: 'refresh', ...base(ctx, conn, 'refresh'), ...userPart(conn),
    ...(identity.expiresAtMs !== undefined ? { expiresAt: Math.floor(identity.expiresAtMs / 1000) } : {}),
  });
  const refused = refusal(outcome);
  if (refused) throw refused;
  if (outcome.kind === 'allow') {
    const v = outcome.value;
    if (v.expiresAt !== undefined) identity.expiresAtMs = v.expiresAt * 1000;
    if (v.info !== undefined) identity.info = v.info;
    if (v.subscribe !== undefined) identity.grants.subscribe = v.subscribe;
    if (v.publish !== undefined) identity.grants.publish = v.publish;
    if (v.expiresAt !== undefined) conn.expiringNoticeSent = false;
  }
}
