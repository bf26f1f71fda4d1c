import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';
import { newNodeId } from '../cluster/node-id.ts';

/**
 * Nodes of one process that reach each other: memory brokers built on the same bus form a
 * deployment (the unit layer runs several nodes without Redis). A broker on its own gets a
 * bus of its own: one node.
 */
export class MemoryBus {
  /** node id → its broker's handler and the channels it receives. */
  readonly nodes = new Map<string, { handler: BrokerHandler; channels: Set<string> }>();
}

/**
 * Publications and control messages go straight to the handlers of the bus's nodes,
 * synchronously and in call order (one node: straight back to its own handler).
 */
export class MemoryBroker implements Broker {
  readonly nodeId: string;
  private readonly bus: MemoryBus;
  private readonly self: { handler: BrokerHandler; channels: Set<string> };
  private readonly shared: boolean;

  constructor(handler: BrokerHandler, o: { nodeId?: string; bus?: MemoryBus } = {}) {
    this.nodeId = o.nodeId ?? newNodeId();
    this.shared = o.bus !== undefined;
    this.bus = o.bus ?? new MemoryBus();
    this.self = { handler, channels: new Set() };
    this.bus.nodes.set(this.nodeId, this.self);
  }

  async publish(channel: string, pub: Publication): Promise<void> {
    // One node: every publication comes back (the hub drops channels without subscribers).
    if (!this.shared) return this.self.handler.onPublication(channel, pub);
    for (const n of [...this.bus.nodes.values()]) if (n.channels.has(channel)) n.handler.onPublication(channel, pub);
  }

  async subscribe(channel: string): Promise<void> {
    this.self.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.self.channels.delete(channel);
  }

  async publishControl(msg: ControlMessage, toNode?: string): Promise<void> {
    if (toNode !== undefined) return this.bus.nodes.get(toNode)?.handler.onControl(msg);
    for (const n of [...this.bus.nodes.values()]) n.handler.onControl(msg);
  }

  async close(): Promise<void> {
    if (this.bus.nodes.get(this.nodeId) === this.self) this.bus.nodes.delete(this.nodeId);
  }
}
