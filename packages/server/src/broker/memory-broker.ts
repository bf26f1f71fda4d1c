import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';

/** One node: publications go straight back to this node's handler, synchronously and in order. */
export class MemoryBroker implements Broker {
  private readonly handler: BrokerHandler;
  constructor(handler: BrokerHandler) {
    this.handler = handler;
  }
  async publish(channel: string, pub: Publication): Promise<void> {
    this.handler.onPublication(channel, pub);
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async publishControl(msg: ControlMessage): Promise<void> {
    this.handler.onControl(msg);
  }
  async close(): Promise<void> {}
}
