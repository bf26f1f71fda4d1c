import type { NodeServices } from '../services.ts';

/**
 * What a wire protocol's commands may use of the gateway: the node's services
 * (`NodeServices`), handed to the protocol by the composition root (`server.ts`). A command
 * declares only the members it uses (`Pick<CommandContext, 'channels' | 'publisher'>`), so
 * a unit test hands it just those, and nothing here knows which transport carries a
 * connection.
 */
export type CommandContext = NodeServices;

export type { PublishResult } from '../publishing/publisher.ts';
export type { SubscribeResult } from '../subscriptions/subscriptions.ts';
