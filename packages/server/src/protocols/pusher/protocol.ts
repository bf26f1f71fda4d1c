import { Disconnect, type FrameId } from '@switchboard/protocol';
import type { Connection, Identity } from '../../connection/connection.ts';
import type { WireProtocol } from '../../connection/protocol.ts';
import type { CommandContext } from '../command-context.ts';
import { admitGuest } from '../../auth/admission.ts';
import type { PusherApps } from './apps.ts';
import { PusherClose } from './codes.ts';
import { pusherEncoder } from './encoder.ts';
import { socketIdOf } from './socket-id.ts';
import { PusherSessions, pusherError, sendPusher, type PusherMessage, type PusherSession } from './session.ts';
import { handleSubscribe, handleUnsubscribe } from './commands/subscribe.ts';
import { handleClientEvent } from './commands/client-event.ts';
import { handleSignin } from './commands/signin.ts';
import type { PusherHooks } from './hooks.ts';

const GUEST: Identity = {
  user: '', session: '', login: '', anonymous: true, guest: true, info: undefined, expiresAtMs: undefined,
  grants: { subscribe: [], publish: [] },
};

/**
 * Pusher Channels protocol 7 (docs/pusher.md) at `/app/<key>`: every Pusher client library
 * connects unchanged. A socket is admitted as a guest of its app at once
 * (`pusher:connection_established`), subscribes with Pusher's signatures, sends client
 * events, and may sign in as a user (`pusher:signin`). Its channels are the app's namespace's
 * Switchboard channels; its events are publications (`events.ts`).
 */
export class PusherProtocol implements WireProtocol<Connection> {
  readonly name = 'pusher';
  readonly encoder = pusherEncoder;
  private readonly ctx: CommandContext;
  private readonly apps: PusherApps;
  private readonly hooks: PusherHooks;
  private readonly sessions = new PusherSessions();

  constructor(ctx: CommandContext, apps: PusherApps, hooks: PusherHooks) {
    this.ctx = ctx;
    this.apps = apps;
    this.hooks = hooks;
  }

  /** The app from the path, the protocol version from `?protocol=`, then the greeting. */
  opened(conn: Connection): void {
    const path = conn.upgrade.path ?? '';
    const key = path.startsWith('/app/') ? path.slice(5) : undefined;
    if (key === undefined || key.length === 0) return conn.terminate(new Disconnect(PusherClose.path_not_found, 'Path not found: connect to /app/<key>'));
    const app = this.apps.withKey(key);
    if (!app) return conn.terminate(new Disconnect(PusherClose.unknown_app, `App key ${key.slice(0, 64)} does not exist`));
    const version = conn.upgrade.query?.protocol;
    if (version === undefined) return conn.terminate(new Disconnect(PusherClose.no_version, 'No protocol version supplied'));
    if (!/^\d{1,3}$/.test(version)) return conn.terminate(new Disconnect(PusherClose.invalid_version, 'Invalid version string format'));
    if (Number(version) < 5 || Number(version) > 7) return conn.terminate(new Disconnect(PusherClose.unsupported_version, `Unsupported protocol version ${version}`));
    if (!admitGuest(this.ctx, conn, GUEST)) return;
    const socketId = socketIdOf(conn.id)!;
    this.sessions.open(conn, app, socketId);
    const interval = this.ctx.config.heartbeat.intervalMs;
    sendPusher(conn, {
      event: 'pusher:connection_established',
      data: JSON.stringify({ socket_id: socketId, activity_timeout: interval > 0 ? Math.max(1, Math.round(interval / 1000)) : 120 }),
    });
  }

  async handle(conn: Connection, frame: Buffer): Promise<void> {
    const s = this.sessions.of(conn);
    if (!s || conn.state !== 'ready') return;
    let msg: unknown;
    try {
      msg = JSON.parse(frame.toString('utf8'));
    } catch {
      return pusherError(conn, null, 'Invalid message: not JSON');
    }
    if (typeof msg !== 'object' || msg === null || typeof (msg as PusherMessage).event !== 'string') {
      return pusherError(conn, null, 'Invalid message: an object with an "event" string');
    }
    try {
      await this.dispatch(conn, s, msg as PusherMessage);
    } catch (err) {
      conn.fail(undefined, err);
    }
  }

  private dispatch(conn: Connection, s: PusherSession, msg: PusherMessage): Promise<void> | void {
    const ctx = this.ctx;
    const authed = conn as Parameters<typeof handleSubscribe>[1];
    switch (msg.event) {
      case 'pusher:ping':
        return sendPusher(conn, { event: 'pusher:pong', data: {} });
      case 'pusher:pong':
        return; // any frame answers the server's ping
      case 'pusher:subscribe':
        return handleSubscribe(ctx, authed, s, msg.data, this.hooks);
      case 'pusher:unsubscribe':
        return handleUnsubscribe(ctx, authed, s, msg.data);
      case 'pusher:signin':
        return handleSignin(ctx, authed, s, msg.data);
      default:
        if (msg.event.startsWith('client-')) return handleClientEvent(ctx, authed, s, msg, this.hooks);
        return pusherError(conn, null, `Unsupported event: ${msg.event.slice(0, 64)}`);
    }
  }

  idOf(): FrameId | undefined {
    return undefined;
  }
}
