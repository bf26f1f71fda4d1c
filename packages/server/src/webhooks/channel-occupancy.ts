import type { WebhookEvent } from './webhook-outbox.ts';

/** Makes the event to enqueue for a channel transition; undefined when its type is not sent. */
export type ChannelEventFor = (type: 'channel.occupied' | 'channel.vacated', channel: string) => WebhookEvent | undefined;

/**
 * Cluster-wide channel occupancy for the `channel.occupied` / `channel.vacated` webhooks. A
 * node reports its own transitions (its first local subscriber of a channel, its last one
 * gone); the store decides the cluster-wide ones — occupied when the first node reports
 * one, vacated when the last node's report is gone — and enqueues the event in the webhook
 * outbox in the same atomic step, so each transition is enqueued exactly once, whichever
 * node saw it and whatever crashes right after.
 *
 * A node that dies stops refreshing its entries (`maintain`); once they expire, any node's
 * `maintain` settles the channels it held (vacated, when no live node holds them).
 * On a single node there is no store: the node's own transitions are the channel's.
 */
export interface ChannelOccupancy {
  /** This node has its first subscriber of `channel`. True when the channel became occupied (and `event` was enqueued). */
  occupy(channel: string, event: WebhookEvent | undefined): Promise<boolean>;
  /** This node's last subscriber of `channel` left. True when the channel became vacant (and `event` was enqueued). */
  vacate(channel: string, event: WebhookEvent | undefined): Promise<boolean>;
  /** Refreshes this node's entries and settles channels of dead nodes; answers how many events it enqueued. */
  maintain(eventFor: ChannelEventFor): Promise<number>;
  /** How often `maintain` should run (ms). */
  readonly intervalMs: number;
  /** A graceful stop: vacates every channel of this node now (instead of after the expiry). */
  leave(eventFor: ChannelEventFor): Promise<void>;
}
