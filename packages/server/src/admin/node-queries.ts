import { randomBytes } from 'node:crypto';
import type { ControlMessage } from '../broker/broker.ts';
import { MAX_VIEW_CONNECTIONS, type ConnectionQuery, type ConnectionView } from './connection-view.ts';

type AdminControl = Extract<ControlMessage, { type: 'admin_query' | 'admin_reply' }>;

export interface NodeQueriesOptions {
  /** This node's admin id (the one it reports its stats under). */
  nodeId: string;
  /** Sends a control message to every node, this one included (the node's broker). */
  publish(msg: ControlMessage): Promise<void>;
  /** This node's connections matching a query. */
  local(query: ConnectionQuery): ConnectionView[];
  /** The admin ids of the live nodes expected to answer. */
  liveNodes(): Promise<string[]>;
  /** How long to wait for every live node's answer (ms); default 2000. */
  timeoutMs?: number;
}

/** What a cluster-wide query found, and which live nodes did not answer in time. */
export interface ConnectionsAnswer {
  connections: ConnectionView[];
  missing: string[];
}

interface Pending {
  expected: Set<string>;
  found: ConnectionView[];
  done(): void;
}

/**
 * Asks every node of the deployment for its connections through the broker's control
 * channel: `admin_query` goes to all nodes; each answers `admin_reply` addressed to the
 * asking node. The answer is complete once every live node has replied, or partial (naming
 * the silent nodes) after `timeoutMs`. On one node the memory broker makes it a local call.
 */
export class NodeQueries {
  private readonly o: NodeQueriesOptions;
  private readonly pending = new Map<string, Pending>();

  constructor(o: NodeQueriesOptions) {
    this.o = o;
  }

  async connections(query: ConnectionQuery): Promise<ConnectionsAnswer> {
    const expected = new Set(await this.o.liveNodes());
    expected.add(this.o.nodeId);
    const id = randomBytes(9).toString('base64url');
    const found: ConnectionView[] = [];
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<void>((resolve) => {
      this.pending.set(id, { expected, found, done: resolve });
      timer = setTimeout(resolve, this.o.timeoutMs ?? 2000);
    });
    try {
      await this.o.publish({ type: 'admin_query', id, from: this.o.nodeId, query });
      await settled;
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
    found.sort((a, b) => b.since - a.since || (a.client < b.client ? -1 : 1));
    return { connections: found.slice(0, query.limit), missing: [...expected].sort() };
  }

  /** The node's control handler for `admin_query` and `admin_reply`. */
  onControl(msg: AdminControl): void {
    switch (msg.type) {
      case 'admin_query': {
        const limit = Math.min(Math.max(1, msg.query.limit | 0), MAX_VIEW_CONNECTIONS);
        const connections = this.o.local({ ...msg.query, limit });
        void this.o.publish({ type: 'admin_reply', id: msg.id, to: msg.from, node: this.o.nodeId, connections }).catch(() => {});
        return;
      }
      case 'admin_reply': {
        if (msg.to !== this.o.nodeId) return;
        const p = this.pending.get(msg.id);
        if (!p || !p.expected.delete(msg.node)) return;
        p.found.push(...msg.connections);
        if (p.expected.size === 0) p.done();
        return;
      }
      default: {
        const never: never = msg;
        void never;
      }
    }
  }
}
