import type { Tracing } from './tracing/tracing.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { ChannelResolver } from './channels.ts';
import type { JwtVerifier } from './auth/jwt.ts';
import type { BackendHooks } from './auth/hooks.ts';
import type { RpcBackend } from './rpc/rpc-backend.ts';
import type { SessionStore } from './session/session-store.ts';
import type { HistoryReads } from './history/history-reads.ts';
import type { SingleSignOn } from './session/single-sign-on.ts';
import type { ServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import type { PresenceTracker } from './presence/presence-tracker.ts';
import type { ConnectionEventLog } from './presence/connection-events.ts';
import type { Hub } from './hub.ts';
import type { Subscriptions } from './subscriptions/subscriptions.ts';
import type { Publisher } from './publishing/publisher.ts';
import type { AccessControl } from './access/access-control.ts';
import type { Heartbeat } from './heartbeat.ts';
import type { UnavailableReporter } from './unavailable.ts';

/**
 * What a node offers the wire protocols' commands (`protocols/command-context.ts`): its
 * services, one concern each. The node builds it once (`Node.services`); a command takes
 * only the members it uses (`Pick<CommandContext, …>`).
 */
export interface NodeServices {
  readonly config: Config;
  readonly log: Logger;
  /** Namespaces and channel names. */
  readonly channels: ChannelResolver;
  readonly jwt: JwtVerifier;
  /** The application backend's connect/subscribe/publish/refresh hooks. */
  readonly hooks: BackendHooks;
  /** Where client `rpc` calls go (`hooks.rpc`). */
  readonly rpc: RpcBackend;
  readonly sessions: SessionStore;
  /** Client-facing history reads: bounded in bytes, at most `limits.historyReadsInFlight` at once. */
  readonly historyReads: HistoryReads;
  /** Single sign-on (login limits). */
  readonly sso: SingleSignOn;
  /** Persistent server-side subscriptions, applied when a connection authenticates. */
  readonly serverSubscriptions: ServerSubscriptionStore;
  /** Channel and user presence. */
  readonly tracker: PresenceTracker;
  /** This node's recent connection events (joined, left, refused, closed), for the admin UI. */
  readonly events: ConnectionEventLog;
  /** This node's authenticated connections and local fan-out. */
  readonly hub: Hub;
  /** Subscribing and unsubscribing connections (the subscription state machine). */
  readonly subscriptions: Subscriptions;
  /** Storing and publishing. */
  readonly publisher: Publisher;
  /** Blocks and revocations, at authentication and live. */
  readonly access: AccessControl;
  /** When a newly authenticated connection gets its first ping. */
  readonly heartbeat: Pick<Heartbeat, 'schedule'>;
  /** Turns store and broker failures into temporary reply errors. */
  readonly failures: UnavailableReporter;
  /** Traces (docs/tracing.md); `enabled` false unless configured. */
  readonly tracing: Tracing;
}
