import type { WebhookEvent } from './webhook-outbox.ts';

/** What occupancy tracks: a channel (occupied/vacated) or a user (online/offline). */
export interface Subject {
  kind: 'channel' | 'user';
  name: string;
}

/** The event a subject's transition sends. */
export type TransitionType = 'channel.occupied' | 'channel.vacated' | 'user.online' | 'user.offline';

/** Makes the event to enqueue for a transition; undefined when its type is not sent. */
export type TransitionEventFor = (type: TransitionType, subject: Subject) => WebhookEvent | undefined;

/** The event type of a subject becoming held (`up`) or not (`down`). */
export function transitionType(kind: Subject['kind'], up: boolean): TransitionType {
  if (kind === 'channel') return up ? 'channel.occupied' : 'channel.vacated';
  return up ? 'user.online' : 'user.offline';
}

/**
 * Cluster-wide occupancy for the `channel.occupied`/`channel.vacated` and
 * `user.online`/`user.offline` webhooks. A node reports its own transitions (its first local
 * subscriber of a channel or connection of a user; its last one gone, for users after
 * `presence.offlineGraceMs`); the store decides the cluster-wide ones — up when the first
 * node reports one, down when the last node's report is gone — and enqueues the event in the
 * webhook outbox in the same atomic step, so each transition is enqueued exactly once,
 * whichever node saw it and whatever crashes right after.
 *
 * A node that dies (or stops) stops refreshing its liveness (`maintain`); once it expires,
 * any node's `maintain` settles what it held (down, where no live node holds it). So a
 * client that reconnects to another node meanwhile (a rolling restart) causes no flap.
 * On a single node there is no store: the node's own transitions are the deployment's.
 */
export interface Occupancy {
  /** This node holds `subject` now. True when it became held cluster-wide (and `event` was enqueued). */
  occupy(subject: Subject, event: WebhookEvent | undefined): Promise<boolean>;
  /** This node no longer holds `subject`. True when nobody holds it any more (and `event` was enqueued). */
  vacate(subject: Subject, event: WebhookEvent | undefined): Promise<boolean>;
  /** Refreshes this node's liveness and settles what dead nodes held; answers how many events it enqueued. */
  maintain(eventFor: TransitionEventFor): Promise<number>;
  /** How often `maintain` should run (ms). */
  readonly intervalMs: number;
}
