import type { Connection } from '../../connection/connection.ts';
import { TokenBucket } from '../../rate-limit.ts';
import type { PusherApp } from './apps.ts';
import { pusherFrame } from './encoder.ts';

/** A Pusher frame from a client: an event name, its data, its channel. */
export interface PusherMessage {
  event: string;
  data?: unknown;
  channel?: unknown;
}

/** What a Pusher connection keeps beside the gateway's connection. */
export interface PusherSession {
  readonly app: PusherApp;
  /** The connection's id as Pusher writes it (`<digits>.<digits>`). */
  readonly socketId: string;
  /** Switchboard channel → the presence member this connection is there (its `user_id`). */
  readonly members: Map<string, string>;
  /** Client events of this connection (the app's `clientEventsPerSecond`), made on the first one. */
  clientEvents: TokenBucket | undefined;
  /** The user this connection signed in as (`pusher:signin`). */
  user: string | undefined;
}

/** The Pusher sessions of one protocol instance, by connection (forgotten with it). */
export class PusherSessions {
  private readonly sessions = new WeakMap<Connection, PusherSession>();

  open(conn: Connection, app: PusherApp, socketId: string): PusherSession {
    const s: PusherSession = { app, socketId, members: new Map(), clientEvents: undefined, user: undefined };
    this.sessions.set(conn, s);
    return s;
  }

  of(conn: Connection): PusherSession | undefined {
    return this.sessions.get(conn);
  }
}

/** Queues a Pusher frame on a connection. */
export function sendPusher(conn: Connection, frame: Record<string, unknown>): void {
  conn.enqueue(pusherFrame(frame));
}

/** `pusher:subscription_error` for a channel (Pusher's shape: `{type, error, status}`). */
export function subscriptionError(conn: Connection, channel: string, type: string, error: string, status: number): void {
  sendPusher(conn, { event: 'pusher:subscription_error', channel, data: { type, error, status } });
}

/** `pusher:error` that does not close the connection. */
export function pusherError(conn: Connection, code: number | null, message: string): void {
  sendPusher(conn, { event: 'pusher:error', data: { code, message } });
}
