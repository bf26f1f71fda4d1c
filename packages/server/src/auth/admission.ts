import { AuthFailure, ReplyError } from '@switchboard/protocol';
import type { ConnectionEventLog } from '../presence/connection-events.ts';
import type { AuthenticatedConnection, Connection, Identity } from '../connection/connection.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ChannelResolver } from '../channels.ts';
import type { Hub } from '../hub.ts';
import type { SingleSignOn } from '../session/single-sign-on.ts';
import type { AccessControl } from '../access/access-control.ts';
import type { Heartbeat } from '../heartbeat.ts';
import type { PresenceTracker } from '../presence/presence-tracker.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { ServerSubscriptionContext } from '../subscriptions/server-subscriptions.ts';
import { autoPersonalChannel, autoSubscribePersonal } from '../direct/personal-channel.ts';
import { subscribePersisted } from '../subscriptions/server-subscriptions.ts';

/** Thrown inside authentication to refuse it with an `auth_failed` reason (`AuthFailure`). */
export class AuthRefused extends Error {
  readonly reason: keyof typeof AuthFailure;
  constructor(reason: keyof typeof AuthFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** What admitting a connection uses of the node. */
export interface AdmissionContext extends ServerSubscriptionContext {
  config: Config;
  log: Logger;
  channels: ChannelResolver;
  sso: SingleSignOn;
  hub: Hub;
  access: AccessControl;
  heartbeat: Pick<Heartbeat, 'schedule'>;
  tracker: PresenceTracker;
  failures: UnavailableReporter;
  /** This node's recent connection events (the admin UI's live view). */
  events?: ConnectionEventLog;
}

/**
 * Admits a connection whose credentials a protocol accepted as `identity`, the same way for
 * every wire protocol: single sign-on (the deployment's login limit, and the `#` namespace's
 * when the connection is auto-subscribed to its personal channel; refused: `AuthRefused
 * session_limit`), then `ready` (heartbeats, the hub), `announce` (the protocol tells its
 * client, e.g. v1's `auth_success`), the user's `online`, the automatic subscription to
 * `#<userId>` and the persistent server-side subscriptions. `accessChanges`: `ctx.access.changes`
 * when the caller read the access store (a block that arrived since is checked again).
 * Returns quietly when the connection closed meanwhile. Store failures reject with a
 * temporary error.
 */
export async function admitConnection(
  ctx: AdmissionContext, conn: Connection, identity: Identity,
  o: { accessChanges: number; announce(conn: AuthenticatedConnection): void },
): Promise<void> {
  if (!conn.beginAuthentication(identity)) return; // closed while the credentials were checked
  const admitted = await ctx.sso.admit(conn).catch((err) => {
    throw ctx.failures.unavailable(err, 'auth');
  });
  if (!admitted) throw new AuthRefused('session_limit', 'this user has reached its limit of logins');
  const personal = autoPersonalChannel(ctx, conn);
  if (personal) {
    try {
      await ctx.sso.enterNamespace(conn, personal.namespace);
    } catch (err) {
      if (err instanceof ReplyError) throw new AuthRefused('session_limit', err.message);
      throw err;
    }
  }
  if (!conn.becomeReady()) return; // closed (or replaced) while we waited
  conn.nextPingAt = ctx.heartbeat.schedule(Date.now());
  ctx.hub.addClient(conn);
  ctx.sso.authenticated(conn);
  if (ctx.access.changes !== o.accessChanges) ctx.access.recheck(conn);
  o.announce(conn);
  ctx.events?.record({ kind: 'joined', client: conn.id, user: conn.user, transport: conn.transport.kind ?? 'websocket' });
  ctx.tracker.connected(conn);
  if (personal) {
    try {
      await autoSubscribePersonal(ctx, conn, personal);
    } catch (err) {
      if (!(err instanceof ReplyError)) ctx.failures.report(err, 'automatic personal subscription');
    } finally {
      ctx.sso.settle(conn, personal.namespace);
    }
  }
  await subscribePersisted(ctx, conn);
}

/**
 * Admits a connection without a user (`Identity.guest`): a protocol whose sockets connect
 * before anyone says who they are (Pusher). Heartbeats and the hub only: no single sign-on,
 * user presence, personal channel or server-side subscriptions. False when it closed.
 */
export function admitGuest(ctx: Pick<AdmissionContext, 'hub' | 'heartbeat'>, conn: Connection, identity: Identity): conn is AuthenticatedConnection {
  if (!identity.guest || !conn.beginAuthentication(identity) || !conn.becomeReady()) return false;
  conn.nextPingAt = ctx.heartbeat.schedule(Date.now());
  ctx.hub.addClient(conn);
  return true;
}

/**
 * A guest connection says who it is (Pusher's `pusher:signin`): unless the user is blocked
 * (`AuthRefused blocked`), it becomes that user — reachable by user (kicks, blocks,
 * disconnects), with user presence (`online`). False when it is not a ready guest any more.
 * A store failure rejects with a temporary error.
 */
export async function identifyGuest(
  ctx: Pick<AdmissionContext, 'access' | 'hub' | 'tracker' | 'failures'>, conn: AuthenticatedConnection, identity: Identity,
): Promise<boolean> {
  const accessChanges = ctx.access.changes;
  if ((await ctx.access.refusal(identity.user, identity.issuedAt)) === 'blocked') throw new AuthRefused('blocked', 'this user is blocked');
  if (!conn.becomeUser(identity)) return false;
  ctx.hub.userIdentified(conn);
  if (ctx.access.changes !== accessChanges) ctx.access.recheck(conn);
  ctx.tracker.connected(conn);
  return true;
}
