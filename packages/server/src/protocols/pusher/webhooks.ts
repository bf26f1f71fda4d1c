import type { Config } from '../../config.ts';
import type { Webhooks } from '../../webhooks/webhooks.ts';
import type { WebhookEvent, WebhookEventType } from '../../webhooks/webhook-outbox.ts';
import type { WebhookRequest, WebhookSink } from '../../webhooks/webhook-sink.ts';
import { pusherNameOf, type PusherApp } from './apps.ts';
import { sign } from './signatures.ts';
import type { PusherHooks } from './hooks.ts';

/** Pusher's name of each event type a Pusher app may take. */
const PUSHER_NAMES: Partial<Record<WebhookEventType, string>> = {
  'channel.occupied': 'channel_occupied',
  'channel.vacated': 'channel_vacated',
  'member.added': 'member_added',
  'member.removed': 'member_removed',
  'pusher.client_event': 'client_event',
  'pusher.cache_miss': 'cache_miss',
};

/**
 * A Pusher app's webhooks (`pusher.apps[].webhooks`) as a destination of the gateway's
 * durable webhook outbox: events about the app's channels, in Pusher's format
 * (`{"time_ms": …, "events": [{"name": "channel_occupied", "channel": "orders"}]}`), signed
 * with `X-Pusher-Key` and `X-Pusher-Signature` (hex HMAC-SHA256 of the body with the app
 * secret), one event per request.
 */
class PusherWebhookSink implements WebhookSink {
  readonly id: string;
  private readonly app: PusherApp;
  private readonly url: string;
  private readonly wanted: ReadonlySet<string>;

  constructor(app: PusherApp, url: string) {
    this.app = app;
    this.url = url;
    this.id = `pusher:${app.id}`;
    this.wanted = new Set(app.webhooks.events);
  }

  wants(type: WebhookEventType, channel: string | undefined): boolean {
    const name = PUSHER_NAMES[type];
    if (!name || !this.wanted.has(name) || channel === undefined || !channel.startsWith(`${this.app.namespace}:`)) return false;
    // Members are a presence channel's, as in Pusher.
    return (type !== 'member.added' && type !== 'member.removed') || pusherNameOf(channel).startsWith('presence-');
  }

  request(event: WebhookEvent): WebhookRequest {
    const entry: Record<string, unknown> = { name: PUSHER_NAMES[event.type], channel: pusherNameOf(event.channel ?? '') };
    if (event.type === 'member.added' || event.type === 'member.removed') entry.user_id = event.user;
    if (event.detail) Object.assign(entry, event.detail);
    const body = JSON.stringify({ time_ms: event.ts, events: [entry] });
    return {
      url: this.url,
      body,
      headers: { 'content-type': 'application/json', 'x-pusher-key': this.app.key, 'x-pusher-signature': sign(this.app.secret, body) },
    };
  }
}

/** The webhook destinations of the Pusher apps that have a webhook URL. */
export function pusherWebhookSinks(config: Pick<Config, 'pusher'>): WebhookSink[] {
  return config.pusher.apps.flatMap((app) => (app.webhooks.url && app.webhooks.events.length > 0 ? [new PusherWebhookSink(app, app.webhooks.url)] : []));
}

/** What the Pusher protocol reports (`client_event`, `cache_miss`), as webhook events of the app's channel. */
export function webhookHooks(webhooks: Pick<Webhooks, 'emit'>): PusherHooks {
  return {
    cacheMiss: (app, channel) => webhooks.emit('pusher.cache_miss', { channel: `${app.namespace}:${channel}` }),
    clientEvent: (app, r) => webhooks.emit('pusher.client_event', {
      channel: `${app.namespace}:${r.channel}`,
      detail: { event: r.event, data: r.data, socket_id: r.socketId, ...(r.userId !== undefined ? { user_id: r.userId } : {}) },
    }),
  };
}
