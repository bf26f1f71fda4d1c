import type { WebhookEvent, WebhookEventType } from './webhook-outbox.ts';

/** The destination id of the deployment's own webhooks (`webhooks.url`). */
export const SWITCHBOARD_DESTINATION = 'switchboard';

/** One HTTP request a destination makes of an event. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A webhook destination besides `webhooks.url`, with a format of its own (a Pusher app's
 * webhooks: `protocols/pusher/webhooks.ts`). Its events ride the same durable outbox, in
 * the same order, with the same retries; an event names its destinations (`WebhookEvent.to`).
 */
export interface WebhookSink {
  /** The id events name it by (`pusher:<app id>`): stable across restarts, outbox entries keep it. */
  readonly id: string;
  /** True when it takes events of `type` about `channel` (absent for user events). */
  wants(type: WebhookEventType, channel: string | undefined): boolean;
  /** The request that delivers `event` to it. */
  request(event: WebhookEvent): WebhookRequest;
}
