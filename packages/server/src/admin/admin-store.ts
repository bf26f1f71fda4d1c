/**
 * One sample of a node's activity, taken every `intervalMs` by the stats sampler. Rates are
 * per second over the interval that ends at `t`; gauges are read at `t`.
 */
export interface StatsSample {
  /** Unix ms, aligned to the sampling interval (so nodes' samples line up). */
  t: number;
  connections: number;
  users: number;
  channels: number;
  subscriptions: number;
  /** Publications fanned out by the node, per second. */
  publications: number;
  /** Messages queued to local subscribers, per second. */
  deliveries: number;
  bytesIn: number;
  bytesOut: number;
  /** Error replies sent, per second. */
  errors: number;
  /** The same by error code (`unknown_channel`, `permission_denied`…), codes seen in the interval only. */
  errorsByCode?: Record<string, number>;
  /** Publish-to-delivery latency p99 over the interval (ms); null without publications. */
  p99: number | null;
  /** Resident memory (bytes). */
  rss: number;
  heapUsed: number;
  /** CPU time used over the interval, percent of one core. */
  cpu: number;
}

/** What a node says about itself beside its samples. */
export interface NodeHeader {
  id: string;
  name: string;
  pid: number;
  version: string;
  startedAt: number;
  /** `memory` (one node) or `redis` (cluster mode). */
  broker: string;
  /** `ok`, or why the node's stores and broker do not answer. */
  status: string;
  /** Unix ms of the node's last report. */
  seenAt: number;
}

/** A node's header and its recent samples, oldest first. */
export interface NodeStats {
  node: NodeHeader;
  samples: StatsSample[];
}

/**
 * What the admin UI shares between the nodes of a deployment: admin login sessions (so any
 * node accepts a session made on another, e.g. behind `--workers`) and each node's recent
 * stats (so any node's page shows the whole cluster). Memory on one node, Redis in cluster
 * mode; all Redis keys share one hash tag, so they live in one Redis Cluster slot.
 */
export interface AdminStore {
  /** Stores a session under the digest of its id (never the id itself) for `ttlMs`. */
  createSession(digest: string, ttlMs: number): Promise<void>;
  /** Unix ms when the session expires; undefined when unknown or expired. */
  sessionExpiry(digest: string): Promise<number | undefined>;
  /** Forgets a session (logout); unknown digests are ignored. */
  deleteSession(digest: string): Promise<void>;
  /**
   * Records a node's header and appends its newest sample, keeping `keep` samples; the node
   * drops out of `nodes()` when it has not reported for `ttlMs`.
   */
  report(header: NodeHeader, sample: StatsSample, o: { keep: number; ttlMs: number }): Promise<void>;
  /** Every live node's header and samples, sorted by node id. */
  nodes(): Promise<NodeStats[]>;
  /** The ids of the live nodes, sorted (cheap: no samples are read). */
  nodeIds(): Promise<string[]>;
  /** Removes a node's entry (graceful stop). */
  forget(nodeId: string): Promise<void>;
  close(): Promise<void>;
}
