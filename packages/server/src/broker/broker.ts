import type { Publication } from '@switchboard/protocol';

/**
 * Messages between nodes that are not publications: kicks, forced disconnects, presence,
 * and requests to one node's services. A discriminated union: each node handles them with
 * an exhaustive switch.
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
  /**
   * A connection joined or left a channel's presence. `first` (join): the user had no other
   * connection in the channel; `last` (leave): it has none left. Absent where unknown
   * (`joinLeave` without `presence`, a store failure).
   */
  | { type: 'presence'; event: 'join' | 'leave' | 'update'; channel: string; user: string; client: string; info?: unknown; first?: boolean; last?: boolean }
  /** The server API's push `all`: `data` for every authenticated connection (`ts`: when it was sent). */
  | { type: 'all'; data: unknown; ts: number }
  /**
   * A request to a node service (`cluster/node-requests.ts`): addressed to one node, or to
   * every node (a survey). Each node that receives it answers with a `reply` addressed to `from`.
   */
  | { type: 'request'; service: string; id: string; from: string; body: unknown }
  /** The answer to a `request`, from `node`: its `body`, or `error` (no such service, or it failed). */
  | { type: 'reply'; id: string; node: string; body?: unknown; error?: string };

/** What a broker calls back into; the node implements it. Backends never see connections. */
export interface BrokerHandler {
  /** A publication for `channel`, in publish order per channel. */
  onPublication(channel: string, pub: Publication): void;
  /** A control message broadcast to every node, or addressed to this one. */
  onControl(msg: ControlMessage): void;
  /**
   * Publications and control messages may have been lost (the broker lost its connection
   * and has now re-established its subscriptions). The node makes its clients recover from
   * history. Brokers that cannot lose messages never call it.
   */
  onGap?(): void;
}

/**
 * Moves publications and control messages between nodes. The contract every implementation
 * keeps (memory, Redis; the suite is `broker.contract.ts`):
 *
 * - **Publications**: a channel's publications reach each node subscribed to it in the order
 *   `publish` was called on one node; the publishing node receives its own publications.
 *   At-most-once: a lost publication is recovered by clients from history (offsets reveal
 *   the gap, `onGap` says when the broker knows it lost some).
 * - **Control messages**: `publishControl(msg)` reaches every node, the sender included;
 *   `publishControl(msg, toNode)` reaches only the node whose `nodeId` is `toNode` (the
 *   sender too when it names itself) and nobody when no such node is live. One node's
 *   messages to one node arrive in the order they were sent. At-most-once, like publications.
 *   Node-to-node requests ride these (`cluster/node-requests.ts`), never publications.
 */
export interface Broker {
  /**
   * This node's address: control messages published with `toNode` equal to it reach this
   * node. Unique in the deployment; the node, its directory entry and its admin samples use it.
   */
  readonly nodeId: string;
  /**
   * Resolves once this node receives control messages, broadcast and addressed (kicks,
   * disconnects, requests); absent when that is so from the start. The server starts
   * listening only after it.
   */
  readonly ready?: Promise<void>;
  publish(channel: string, pub: Publication): Promise<void>;
  /** Start receiving a channel's publications on this node (the hub's first local subscriber). */
  subscribe(channel: string): Promise<void>;
  /** Stop receiving them (the hub's last local subscriber left). */
  unsubscribe(channel: string): Promise<void>;
  /** Sends a control message to every node, or to the node `toNode` only. */
  publishControl(msg: ControlMessage, toNode?: string): Promise<void>;
  close(): Promise<void>;
}
