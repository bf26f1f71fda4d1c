import type { FrameId, Publication, StreamPosition } from '@switchboard/protocol';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ChannelResolver, ResolvedChannel } from '../channels.ts';
import type { HistoryStore } from '../history/history-store.ts';
import type { HistoryReads } from '../history/history-reads.ts';
import type { SessionStore } from '../session/session-store.ts';
import type { SingleSignOn } from '../session/single-sign-on.ts';
import type { PresenceTracker } from '../presence/presence-tracker.ts';
import type { PresenceUser } from '../presence/presence-store.ts';
import type { AccessRefusal } from '../access/access-store.ts';
import type { JwtVerifier } from '../auth/jwt.ts';
import type { BackendHooks } from '../auth/hooks.ts';
import type { RpcBackend } from '../rpc/rpc-backend.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { Hub } from '../hub.ts';
import type { ServerSubscriptionStore } from '../subscriptions/server-subscription-store.ts';
import type { Subscriptions } from '../subscriptions/subscriptions.ts';
import type { Connection } from './connection.ts';

/** Who published, for `from`, `id` and hooks. */
export interface PublishMeta {
  from?: string;
  /** Idempotency key. */
  id?: FrameId;
  /** Whose idempotency keys `id` is among when there is no `from` (default `api`, the server API's). */
  publisher?: string;
}

/** What a publication's ack carries. */
export interface PublishResult {
  epoch?: string;
  offset?: number;
  duplicate: boolean;
}

export type { SubscribeResult } from '../subscriptions/subscriptions.ts';

/**
 * What the protocol session's commands (`connection/commands/*.ts`, `auth/hook-checks.ts`,
 * `direct/personal-channel.ts`) may use of the gateway: the port they are handed by
 * `dispatch`, instead of reaching through the connection to the node. `Node` implements it;
 * a unit test may hand in a `Node` built on memory stores and a `TestTransport`.
 *
 * Nothing here knows which transport carries a connection.
 */
export interface CommandContext {
  readonly config: Config;
  readonly log: Logger;
  /** Namespaces and channel names. */
  readonly channels: ChannelResolver;
  readonly jwt: JwtVerifier;
  readonly hooks: BackendHooks;
  /** Where client `rpc` calls go (`hooks.rpc`). */
  readonly rpc: RpcBackend;
  readonly sessions: SessionStore;
  readonly history: HistoryStore;
  /** Client-facing history reads: bounded in bytes, at most `limits.historyReadsInFlight` at once. */
  readonly historyReads: HistoryReads;
  readonly sso: SingleSignOn;
  /** Persistent server-side subscriptions, applied when a connection authenticates. */
  readonly serverSubscriptions: ServerSubscriptionStore;
  readonly tracker: PresenceTracker;
  /** This node's authenticated connections and local fan-out. */
  readonly hub: Hub;
  /** Subscribing and unsubscribing connections (the subscription state machine). */
  readonly subscriptions: Subscriptions;
  /** Turns store and broker failures into temporary reply errors. */
  readonly failures: UnavailableReporter;
  /** Counts block/revoke control messages received (see `Node.accessChanges`). */
  readonly accessChanges: number;

  /** Resolves a channel name (`bad_request`, `unknown_channel`). */
  resolve(channel: unknown): ResolvedChannel;
  /** Why the operator refuses this user or token now, or undefined. */
  accessRefusal(user: string, issuedAt: number | null | undefined): Promise<AccessRefusal | undefined>;
  /** Checks a live connection again (a block or revocation raced with its authentication). */
  recheckAccess(conn: Connection): void;
  /** When a newly authenticated connection gets its first ping. */
  heartbeatSchedule(now: number): number;
  /** Who is subscribed to a presence-enabled channel, on every node. */
  presence(channel: string): Promise<Record<string, PresenceUser>>;
  /** Stores (history namespaces) and publishes; resolves once stored. */
  publish(ch: ResolvedChannel, data: unknown, meta?: PublishMeta): Promise<PublishResult>;
}
