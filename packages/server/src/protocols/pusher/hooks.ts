import type { PusherApp } from './apps.ts';

/** A client event as Pusher's `client_event` webhook reports it. */
interface ClientEventReport {
  /** The Pusher channel name. */
  channel: string;
  event: string;
  /** The event's data as the client sent it (a string as it is, else its JSON text). */
  data: string;
  socketId: string;
  /** Presence channels: the sender's `user_id`. */
  userId?: string;
}

/** What the Pusher protocol reports to the app's webhooks (`webhooks.ts` sends them). */
export interface PusherHooks {
  /** A cache channel was subscribed to with nothing cached (`cache_miss`). */
  cacheMiss(app: PusherApp, channel: string): void;
  /** A client event was accepted (`client_event`). */
  clientEvent(app: PusherApp, report: ClientEventReport): void;
}
