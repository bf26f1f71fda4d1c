import type { FastifyInstance } from 'fastify';
import type { Node } from '../../node.ts';
import { HttpSessions } from './sessions.ts';
import { Relay } from './relay.ts';
import { LiveNodes } from '../../cluster/live-nodes.ts';
import { httpTransportsPlugin } from './routes.ts';
import type { OpenConnection } from '../transport.ts';



/**
 * The HTTP fallback transports of one gateway (`transports.http`): the sessions of this
 * node, and in cluster mode the relay that serves and asks other nodes' sessions (its node
 * service is registered here, before the server listens).
 */
export class HttpTransports {
  private readonly sessions: HttpSessions | undefined;
  private readonly relay: Relay | undefined;
  private readonly node: Node;

  /** `openConnection`: opens a new client's connection (the wire protocol these transports carry). */
  constructor(node: Node, openConnection: OpenConnection) {
    this.node = node;
    if (!node.config.transports.http) return;
    this.sessions = new HttpSessions(node, { pollTimeoutMs: node.config.transports.pollTimeoutMs, openConnection });
    // Cluster mode only (a node directory): a node alone has no other node to ask, and an id
    // naming another node is answered `404` at once.
    const directory = node.directory;
    if (directory) {
      const live = new LiveNodes({ read: async () => (await directory.nodes()).map((n) => n.id) });
      this.relay = new Relay({
        requests: node.requests, sessions: this.sessions, log: node.log, metrics: node.metrics,
        isAlive: (id) => live.isAlive(id), maxInFlight: node.config.transports.maxRelayedRequests,
      });
    }
  }

  /** Registers the routes (`/stream`, `/sse`, `/poll`, `/send`, `/close`). */
  async register(http: FastifyInstance): Promise<void> {
    if (!this.sessions) return;
    await http.register(httpTransportsPlugin, { node: this.node, sessions: this.sessions, ...(this.relay ? { relay: this.relay } : {}) });
  }
}
