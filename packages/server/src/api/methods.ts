import type { z } from 'zod';
import type { Operations } from './operations.ts';
import {
  AccessRequest, AccessResponse, BlockRequest, RevokeRequest, UnblockRequest,
  BroadcastRequest, BroadcastResponse, ChannelsRequest, ChannelsResponse, DisconnectRequest, EmptyResponse,
  HistoryRequest, HistoryResponse, InfoRequest, InfoResponse, PresenceRequest, PresenceResponse, PublishRequest,
  PublishResponse, SendRequest, SubscribeRequest, UnsubscribeRequest,
} from './schemas.ts';

/** One server API method: `POST /api/<name>` with a JSON body. */
export interface ApiMethod<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  name: string;
  summary: string;
  request: Req;
  response: Res;
  /** Error statuses the method may answer besides 400, 401, 413 and 503 (which every method may). */
  errors: number[];
  run(ops: Operations, body: z.output<Req>): Promise<z.output<Res>>;
}

const method = <Req extends z.ZodType, Res extends z.ZodType>(m: ApiMethod<Req, Res>): ApiMethod => m as unknown as ApiMethod;

/** Every method of the server API; the routes and the OpenAPI document are both built from this list. */
export const API_METHODS: readonly ApiMethod[] = [
  method({
    name: 'publish', summary: 'Publish to a channel; answers once stored (history namespaces).',
    request: PublishRequest, response: PublishResponse, errors: [404],
    run: (ops, b) => ops.publish(b.channel, b.data, b.idempotencyKey, b.tags),
  }),
  method({
    name: 'broadcast', summary: 'Publish the same data to several channels; every name is checked first.',
    request: BroadcastRequest, response: BroadcastResponse, errors: [404],
    run: (ops, b) => ops.broadcast(b.channels, b.data, b.idempotencyKey, b.tags),
  }),
  method({
    name: 'send', summary: 'Send to a user: publishes to the personal channel #<user> (kept for offline users where it has history).',
    request: SendRequest, response: PublishResponse, errors: [404],
    run: (ops, b) => ops.send(b.user, b.data, b.idempotencyKey),
  }),
  method({
    name: 'disconnect', summary: 'Close a user\'s connections (or one session\'s) on every node, with a close code.',
    request: DisconnectRequest, response: EmptyResponse, errors: [],
    run: async (ops, b) => {
      await ops.disconnect(b.user, { code: b.code, reason: b.reason, ...(b.session !== undefined ? { session: b.session } : {}) });
      return {};
    },
  }),
  method({
    name: 'subscribe', summary: 'Subscribe every live connection of a user to a channel on every node (each gets a `subscribed` frame); `persist` also subscribes its future connections.',
    request: SubscribeRequest, response: EmptyResponse, errors: [403, 404],
    run: async (ops, b) => {
      await ops.subscribe(b.user, b.channel, b.persist);
      return {};
    },
  }),
  method({
    name: 'unsubscribe', summary: 'Remove a user\'s connections from a channel on every node (each gets an `unsubscribed` frame) and forget a persistent server-side subscription.',
    request: UnsubscribeRequest, response: EmptyResponse, errors: [404],
    run: async (ops, b) => {
      await ops.unsubscribe(b.user, b.channel);
      return {};
    },
  }),
  method({
    name: 'block', summary: 'Block a user on every node: live connections close 3502 blocked, new ones are refused until unblock or the ttl ends.',
    request: BlockRequest, response: EmptyResponse, errors: [],
    run: async (ops, b) => {
      await ops.block(b.user, { ...(b.ttl !== undefined ? { ttlSec: b.ttl } : {}), ...(b.reason !== undefined ? { reason: b.reason } : {}) });
      return {};
    },
  }),
  method({
    name: 'unblock', summary: 'Lift a user\'s block; token revocations stay.',
    request: UnblockRequest, response: EmptyResponse, errors: [],
    run: async (ops, b) => {
      await ops.unblock(b.user);
      return {};
    },
  }),
  method({
    name: 'revoke', summary: 'Refuse a user\'s tokens issued before a time; live connections that used one close 3502 token_revoked.',
    request: RevokeRequest, response: EmptyResponse, errors: [],
    run: async (ops, b) => {
      await ops.revoke(b.user, b.before);
      return {};
    },
  }),
  method({
    name: 'access', summary: 'Whether a user is blocked (until when, why) and since when its tokens are revoked.',
    request: AccessRequest, response: AccessResponse, errors: [],
    run: (ops, b) => ops.access(b.user),
  }),
  method({
    name: 'presence', summary: 'Who is subscribed to a channel: users, their info and connection counts.',
    request: PresenceRequest, response: PresenceResponse, errors: [404],
    run: (ops, b) => ops.presence(b.channel),
  }),
  method({
    name: 'history', summary: 'Page through a channel\'s retained publications.',
    request: HistoryRequest, response: HistoryResponse, errors: [404, 410],
    run: (ops, b) => ops.history(b),
  }),
  method({
    name: 'channels', summary: 'Channels with subscribers, optionally matching a pattern.',
    request: ChannelsRequest, response: ChannelsResponse, errors: [],
    run: (ops, b) => ops.channels(b.pattern),
  }),
  method({
    name: 'info', summary: 'Nodes, connection, user, channel and subscription counts.',
    request: InfoRequest, response: InfoResponse, errors: [],
    run: (ops) => ops.info(),
  }),
];
