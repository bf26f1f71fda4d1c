import type { Publication } from '@switchboard/protocol';
import type { ConnectionQuery, ConnectionView } from '../admin/connection-view.ts';

/**
 * Messages between nodes that are not publications: kicks, forced disconnects, presence.
 * A discriminated union: each node handles them with an exhaustive switch.
 */
export type ControlMessage =
  | { type: 'disconnect'; user: string; session?: string; login?: string; exceptClient?: string; code: number; reason: string }
  | { type: 'unsubscribe'; user: string; channel: string }
  /** A user was blocked (close every connection) or its tokens issued before `before` (Unix s) revoked. */
  | { type: 'access'; user: string; action: 'block' }
  | { type: 'access'; user: string; action: 'revoke'; before: number }
  /** Server API subscribe: every local connection of the user joins the channel (`subscribed` frame). */
  | { type: 'subscribe'; user: string; channel: string; persist: boolean }
  | { type: 'user_event'; event: 'online' | 'offline'; user: string }
  | { type: 'presence'; event: 'join' | 'leave'; channel: string; user: string; client: string; info?: unknown }
  /** A frame (encoded JSON text) for every authenticated connection: the server API's push `all`. */
  | { type: 'all'; frame: string }
  /** The admin UI asks every node for connections; each answers with `admin_reply` to `from`. */
  | { type: 'admin_query'; id: string; from: string; query: ConnectionQuery }
  | { type: 'admin_reply'; id: string; to: string; node: string; connections: ConnectionView[] };

/** What a broker calls back into; the node implements it. Backends never see connections. */
export interface BrokerHandler {
  /** A publication for `channel`, in publish order per channel. */
  onPublication(channel: string, pub: Publication): void;
  onControl(msg: ControlMessage): void;
  /**
   * Publications and control messages may have been lost (the broker lost its connection
   * and has now re-established its subscriptions). The node makes its clients recover from
   * history. Brokers that cannot lose messages never call it.
   */
  onGap?(): void;
}

/**
 * Moves publications and control messages between nodes.
 *
 * Guarantees: publications of one channel reach each subscribed node in the order `publish`
 * was called on one node; the publishing node receives its own publications. At-most-once:
 * a lost publication is recovered by clients from history (offsets reveal the gap).
 */
export interface Broker {
  /**
   * Resolves once this node receives control messages (kicks, disconnects); absent when that
   * is so from the start. The server starts listening only after it.
   */
  readonly ready?: Promise<void>;
  publish(channel: string, pub: Publication): Promise<void>;
  /** Start receiving a channel's publications on this node (the hub's first local subscriber). */
  subscribe(channel: string): Promise<void>;
  /** Stop receiving them (the hub's last local subscriber left). */
  unsubscribe(channel: string): Promise<void>;
  publishControl(msg: ControlMessage): Promise<void>;
  close(): Promise<void>;
}
