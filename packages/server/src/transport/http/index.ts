import type { FastifyInstance } from 'fastify';
import type { Broker, BrokerHandler } from '../../broker/broker.ts';
import { MemoryBroker } from '../../broker/memory-broker.ts';
import type { Node } from '../../node.ts';
import { HttpSessions } from './sessions.ts';
import { Relay, withNodeChannels } from './relay.ts';
import { httpTransportsPlugin } from './routes.ts';

export type { HttpTransportName } from './http-session.ts';

/**
 * The HTTP fallback transports of one gateway: build with the node's broker factory (so
 * node-addressed relay messages reach them), then `attach` once the node exists.
 */
export class HttpTransports {
  private relay: Relay | undefined;
  private sessions: HttpSessions | undefined;

  /** The broker factory to give the node: node channels go to the relay, the rest to the node. */
  brokerFactory(factory: ((h: BrokerHandler) => Broker) | undefined): (h: BrokerHandler) => Broker {
    return withNodeChannels(factory ?? ((h) => new MemoryBroker(h)), () => this.relay);
  }

  /** Sessions open on this node (HTTP transports). */
  get size(): number {
    return this.sessions?.size ?? 0;
  }

  /** Registers the routes and subscribes this node's relay channel (awaited before listening). */
  async attach(http: FastifyInstance, node: Node): Promise<void> {
    if (!node.config.transports.http) return;
    const sessions = new HttpSessions(node, { pollTimeoutMs: node.config.transports.pollTimeoutMs });
    const relay = new Relay({ broker: node.broker, sessions, log: node.log });
    this.sessions = sessions;
    this.relay = relay;
    await relay.start();
    await http.register(httpTransportsPlugin, { node, sessions, relay });
  }

  close(): void {
    this.relay?.close();
  }
}
