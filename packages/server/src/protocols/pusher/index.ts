import type { FastifyInstance } from 'fastify';
import type { Node } from '../../node.ts';
import type { OpenConnection } from '../../transport/transport.ts';
import { PusherApps } from './apps.ts';
import { PusherProtocol } from './protocol.ts';
import { pusherApiPlugin } from './http/api.ts';
import { webhookHooks } from './webhooks.ts';

export { pusherWebhookSinks } from './webhooks.ts';

/**
 * Pusher Channels (docs/pusher.md), when `pusher.apps` lists any: the WebSocket endpoint
 * `/app/*` (protocol 7) to bind beside `/ws`, and the HTTP API `/apps/<id>/…` registered on
 * `http`. Undefined when no app is configured.
 */
export function pusherEndpoint(node: Node, http: FastifyInstance): { path: string; open: OpenConnection } | undefined {
  const apps = new PusherApps(node.config);
  if (apps.size === 0) return undefined;
  const protocol = new PusherProtocol(node.services, apps, webhookHooks(node.webhooks));
  http.register(pusherApiPlugin, { node, apps });
  return { path: '/app/*', open: (transport, upgrade) => node.openConnection(transport, upgrade, protocol) };
}
