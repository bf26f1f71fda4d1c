import { randomBytes } from 'node:crypto';

/**
 * A new node id (`n_` and 8 random base64url characters): a node's address on the broker
 * (`Broker.nodeId`), its entry in the node directory and its admin samples. Routing, not a
 * secret.
 */
export function newNodeId(): string {
  return `n_${randomBytes(6).toString('base64url')}`;
}
