import type { NodeRequests } from '../cluster/node-requests.ts';
import { MAX_VIEW_CONNECTIONS, type ConnectionQuery, type ConnectionView } from './connection-view.ts';
import type { ConnectionEvent } from '../presence/connection-events.ts';

/** The node service that answers the admin UI's connection queries (`NodeRequests`). */
const ADMIN_CONNECTIONS_SERVICE = 'admin.connections';
/** The node service that answers with a node's recent connection events. */
const ADMIN_EVENTS_SERVICE = 'admin.events';
/** Most events one answer carries (per node, and merged). */
const MAX_EVENTS = 100;

/** A connection event as the admin UI gets it: the node's, with the node's id. */
export type NodeConnectionEvent = ConnectionEvent & { node: string };

export interface NodeQueriesOptions {
  /** This node's requests to the other nodes (and its own services). */
  requests: Pick<NodeRequests, 'nodeId' | 'serve' | 'survey'>;
  /** This node's connections matching a query. */
  local(query: ConnectionQuery): ConnectionView[];
  /** This node's connection events after Unix ms `since` (at most `MAX_EVENTS`, oldest first). */
  localEvents?(since: number): ConnectionEvent[];
  /** The ids of the live nodes expected to answer. */
  liveNodes(): Promise<string[]>;
  /** How long to wait for every live node's answer (ms); default 2000. */
  timeoutMs?: number;
}

/** What a cluster-wide query found, and which live nodes did not answer in time. */
export interface ConnectionsAnswer {
  connections: ConnectionView[];
  missing: string[];
}

/** A query as another node sent it, bounded before it is run. */
function boundedQuery(body: unknown): ConnectionQuery {
  const q = (typeof body === 'object' && body !== null ? body : {}) as Partial<ConnectionQuery>;
  const limit = Math.min(Math.max(1, Number(q.limit) | 0), MAX_VIEW_CONNECTIONS);
  return { limit, ...(typeof q.user === 'string' ? { user: q.user } : {}) };
}

/**
 * Asks every node of the deployment for its connections: a survey of the
 * `admin.connections` service (`NodeRequests`), which every node serves with its own
 * matching connections (at most 200). The answer is complete once every live node has
 * replied, or partial (naming the silent nodes) after `timeoutMs`. On one node the memory
 * broker makes it a local call.
 */
export class NodeQueries {
  private readonly o: NodeQueriesOptions;

  constructor(o: NodeQueriesOptions) {
    this.o = o;
    o.requests.serve(ADMIN_CONNECTIONS_SERVICE, (body) => o.local(boundedQuery(body)));
    const local = o.localEvents;
    if (local) {
      o.requests.serve(ADMIN_EVENTS_SERVICE, (body) => {
        const since = Number((body as { since?: unknown } | null)?.since);
        return local(Number.isFinite(since) ? since : 0).slice(-MAX_EVENTS).map((e) => ({ ...e, node: o.requests.nodeId }));
      });
    }
  }

  /**
   * Every node's connection events after Unix ms `since`, merged oldest first, the last
   * `MAX_EVENTS`; `missing`: live nodes that did not answer in time.
   */
  async events(since: number): Promise<{ events: NodeConnectionEvent[]; missing: string[] }> {
    const expected = new Set(await this.o.liveNodes());
    expected.add(this.o.requests.nodeId);
    const answers = await this.o.requests.survey(ADMIN_EVENTS_SERVICE, { since }, expected, this.o.timeoutMs ?? 2000);
    const found: NodeConnectionEvent[] = [];
    const missing: string[] = [];
    for (const [node, r] of answers) {
      if (r.kind === 'reply' && Array.isArray(r.body)) found.push(...(r.body as NodeConnectionEvent[]));
      else missing.push(node);
    }
    found.sort((a, b) => a.t - b.t || (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq));
    return { events: found.slice(-MAX_EVENTS), missing: missing.sort() };
  }

  async connections(query: ConnectionQuery): Promise<ConnectionsAnswer> {
    const expected = new Set(await this.o.liveNodes());
    expected.add(this.o.requests.nodeId);
    const answers = await this.o.requests.survey(ADMIN_CONNECTIONS_SERVICE, query, expected, this.o.timeoutMs ?? 2000);
    const found: ConnectionView[] = [];
    const missing: string[] = [];
    for (const [node, r] of answers) {
      if (r.kind === 'reply' && Array.isArray(r.body)) found.push(...(r.body as ConnectionView[]));
      else missing.push(node);
    }
    found.sort((a, b) => b.since - a.since || (a.client < b.client ? -1 : 1));
    return { connections: found.slice(0, query.limit), missing: missing.sort() };
  }
}
