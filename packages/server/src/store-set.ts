import type { Broker, BrokerHandler, ControlMessage } from './broker/broker.ts';
import type { HistoryStore } from './history/history-store.ts';
import type { SessionStore } from './session/session-store.ts';
import type { PresenceStore } from './presence/presence-store.ts';
import type { LoginRegistry } from './session/login-registry.ts';
import type { AccessStore } from './access/access-store.ts';
import type { NodeDirectory } from './cluster/node-directory.ts';
import type { ServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import type { WebhookOutbox } from './webhooks/webhook-outbox.ts';
import type { Occupancy } from './webhooks/occupancy.ts';

/** What cluster backends see of the node they serve (to announce it in the node directory). */
interface LocalNodeView {
  /** This node's hub counts. */
  stats(): { clients: number; users: number; channels: number; subscriptions: number };
  /** This node's channels and their local subscriber counts. */
  channels(): Iterable<[string, number]>;
  /** Changes whenever `channels()` would answer differently (an idle node's stays the same). */
  channelsVersion(): number;
  /** Sends a control message to every node (the node's broker). */
  publishControl(msg: ControlMessage): Promise<void>;
  /** A dead node's user was settled offline by this node (for the `user.offline` webhook). */
  userExpired(user: string): void;
}

/**
 * The backends of one gateway, one per port, every member present: `createStores` fills in
 * the single-node (memory) implementation where a deployment has no shared one. The node
 * takes them in its constructor; nothing is attached later.
 */
export interface Stores {
  history: HistoryStore;
  sessions: SessionStore;
  /** Blocks and token revocations (kept across restarts with SQLite and Redis). */
  access: AccessStore;
  /** Channel and user presence (cluster-wide on Redis). */
  presence: PresenceStore;
  /** Live logins for single sign-on (cluster-wide on Redis). */
  logins: LoginRegistry;
  /** Persistent server-side subscriptions (`POST /api/subscribe` with `persist`). */
  subscriptions: ServerSubscriptionStore;
  /** Where webhook events wait for delivery (SQLite, Redis: durable; Redis: shared by the nodes); absent: the node's memory outbox. */
  webhookOutbox?: WebhookOutbox;
  /** Cluster mode: decides the channel and user webhooks cluster-wide (absent: each node's own transitions). */
  occupancy?: Occupancy;
  /** Builds the node's broker around the node's handler (memory: one node); its `nodeId` is the node's id. */
  broker: (handler: BrokerHandler) => Broker;
  /**
   * Cluster mode: builds the directory of live nodes around the node's view of itself
   * (called once, by the node's constructor). Absent on a single node, which reports itself.
   */
  directory?: (local: LocalNodeView) => NodeDirectory;
  /**
   * Cluster mode: resolves while every part of the shared backend this node needs can be
   * used, rejects saying what cannot (on a Redis Cluster: a slot without a reachable
   * primary; the broker's subscriptions not all in place). `/readyz` asks it. Absent: the
   * readiness probe's store reads are enough.
   */
  probe?: () => Promise<void>;
  /** Releases what the stores share (the SQLite database); call after the stores' own `close`. */
  close(): Promise<void>;
}
