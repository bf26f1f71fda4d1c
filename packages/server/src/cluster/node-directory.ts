/** One gateway node as the server API's `info` reports it. */
export interface NodeInfo {
  id: string;
  name: string;
  pid: number;
  uptimeMs: number;
  clients: number;
  users: number;
  channels: number;
  subscriptions: number;
}

/**
 * The live nodes of a deployment. Each node announces itself periodically; a node that
 * stops (or dies) drops out after its entry expires. Absent on a single node, where the
 * node reports only itself.
 */
export interface NodeDirectory {
  /** Every live node, this one included (with fresh numbers), sorted by id. */
  nodes(): Promise<NodeInfo[]>;
  /**
   * Every live node's channels with their subscriber counts, summed over nodes: this node's
   * current, the others' as of their last flush (see `RedisChannelIndex`).
   */
  channels(): Promise<Map<string, number>>;
  close(): Promise<void>;
}
