import { z } from 'zod';
import { isValidUserId, MAX_FILTER_LENGTH, MAX_TAGS, tagsProblem } from '@switchboard/protocol';
import { MAX_DATA_DEPTH, withinDepth } from '../json-depth.ts';

/**
 * Request and response shapes of the server API. The routes validate bodies with these and
 * the OpenAPI document is derived from them, so the two cannot drift apart.
 */

const required = (what: string) => z.unknown().refine((v) => v !== undefined, `is required (${what}; null is allowed)`);
/**
 * A payload: any JSON value nesting at most MAX_DATA_DEPTH levels (deeper data parses but can
 * never be encoded again, so it is a 400 naming the field, never a 503).
 */
export const payload = (what: string) => required(what).refine((v) => withinDepth(v), `nests deeper than ${MAX_DATA_DEPTH} levels of objects and arrays`);
const data = payload('any JSON value').describe('The payload: any JSON value, delivered as is.');
const channel = z.string().min(1, 'must be a non-empty channel name').max(255).describe('Channel name, e.g. "chat:lobby" or "#alice".');
const user = z.string().refine(isValidUserId, 'must be a user id: 1-128 of A-Z a-z 0-9 _ . @ = + -').describe('User id.');
const idempotencyKey = z.string().min(1).max(128)
  .describe('Publication id: a repeat within the dedup window is not stored or delivered again; the answer repeats the first offset with duplicate: true.');
const position = z.strictObject({ epoch: z.string().min(1).max(64), offset: z.int().min(0) });

const tags = z.record(z.string(), z.string()).superRefine((v, ctx) => {
  const bad = tagsProblem(v);
  if (bad) ctx.addIssue({ code: 'custom', message: bad });
}).describe(`Tags: string values by name (at most ${MAX_TAGS}; names: a letter or _, then letters, digits, _ - . :), kept with the publication and matched by subscribers' filters (docs/protocol.md#filters).`);
const filter = z.string().min(1).max(MAX_FILTER_LENGTH)
  .describe('Only publications whose tags match, e.g. symbol in ["AAPL","MSFT"] && priority >= 2 (docs/protocol.md#filters); limit counts what is read before filtering.');

export const PublishRequest = z.strictObject({ channel, data, idempotencyKey: idempotencyKey.optional(), tags: tags.optional() });
export const BroadcastRequest = z.strictObject({
  channels: z.array(channel).min(1, 'must list at least one channel').max(1000, 'at most 1000 channels per broadcast'),
  data,
  idempotencyKey: idempotencyKey.optional(),
  tags: tags.optional(),
});
export const SendRequest = z.strictObject({ user, data, idempotencyKey: idempotencyKey.optional() });
export const DisconnectRequest = z.strictObject({
  user,
  session: z.string().min(1).max(128).optional().describe('Only the connections of this gateway session (s_…); absent: all of the user.'),
  code: z.int().min(3000, 'must be a close code 3000-4999').max(4999, 'must be a close code 3000-4999').default(3503)
    .describe('Close code: 3000-3499 and 4000-4499 let clients reconnect, 3500-3999 and 4500-4999 stop them.'),
  reason: z.string().min(1).max(120).default('forced'),
});
export const UnsubscribeRequest = z.strictObject({ user, channel });
const operatorReason = z.string().min(1).max(200).describe('Why (kept for operators, never sent to the client).');
export const BlockRequest = z.strictObject({
  user,
  ttl: z.int().min(1, 'must be at least 1 (seconds)').max(315_360_000, 'at most 315360000 (ten years)').optional()
    .describe('Seconds until the block ends by itself; absent: until unblock.'),
  reason: operatorReason.optional(),
});
export const UnblockRequest = z.strictObject({ user });
export const RevokeRequest = z.strictObject({
  user,
  before: z.int().min(0).optional()
    .describe('Unix seconds: tokens of the user issued (iat) before this are refused from now on; absent: now.'),
});
export const AccessRequest = z.strictObject({ user });
export const SubscribeRequest = z.strictObject({
  user,
  channel,
  persist: z.boolean().default(false)
    .describe('Also store it: the user\'s future connections are subscribed when they authenticate, until POST /api/unsubscribe.'),
});
export const PresenceRequest = z.strictObject({ channel });
export const HistoryRequest = z.strictObject({
  channel,
  since: position.optional().describe('Exclusive start position (exclusive end when reverse).'),
  limit: z.int().min(0).optional().describe('At most this many publications (default 100, at most limits.historyLimit).'),
  reverse: z.boolean().optional().describe('Newest first.'),
  filter: filter.optional(),
});
export const ChannelsRequest = z.strictObject({
  pattern: z.string().min(1).max(255).optional().describe('Only channels matching this pattern; "*" matches any run of characters.'),
});
export const InfoRequest = z.strictObject({});

const publication = z.object({
  channel: z.string(), data: z.unknown(), offset: z.int().optional(), epoch: z.string().optional(),
  from: z.string().optional(), id: z.union([z.string(), z.number()]).optional(), ts: z.int(),
  tags: z.record(z.string(), z.string()).optional(),
});
const errorDetail = z.object({ code: z.string(), message: z.string(), temporary: z.boolean().optional() });

export const PublishResponse = z.object({
  epoch: z.string().optional().describe('Absent on channels without history.'),
  offset: z.int().optional().describe('Absent on channels without history.'),
  duplicate: z.boolean(),
});
export const BroadcastResponse = z.object({
  results: z.array(PublishResponse.partial({ duplicate: true }).extend({ channel: z.string(), error: errorDetail.optional() })),
});
export const EmptyResponse = z.object({});
export const AccessResponse = z.object({
  user: z.string(),
  blocked: z.boolean(),
  until: z.int().optional().describe('Unix seconds when the block ends; absent while blocked: until unblock.'),
  reason: z.string().optional(),
  revokedBefore: z.int().optional().describe('Unix seconds: tokens issued before this are refused.'),
});
export const PresenceResponse = z.object({
  presence: z.record(z.string(), z.object({ user: z.string(), info: z.unknown().optional(), connections: z.int() })),
});
export const HistoryResponse = z.object({
  epoch: z.string(), offset: z.int(), publications: z.array(publication),
  more: z.boolean().optional().describe('True when more publications are retained in this direction (cut by limit or limits.maxReplayBytes): continue with since = the last one (with a filter: since = next).'),
  next: position.optional().describe('With a filter: the position of the last publication read, matching or not: where the next page starts.'),
});
export const ChannelsResponse = z.object({ channels: z.array(z.object({ channel: z.string(), subscribers: z.int() })) });
const counts = { clients: z.int(), users: z.int(), channels: z.int(), subscriptions: z.int() };
export const InfoResponse = z.object({
  nodes: z.array(z.object({ id: z.string(), name: z.string(), pid: z.int(), uptimeMs: z.int(), ...counts })),
  totals: z.object(counts),
});
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional(), temporary: z.boolean().optional() }),
});

export type PublishRequest = z.output<typeof PublishRequest>;
export type BroadcastRequest = z.output<typeof BroadcastRequest>;
export type SendRequest = z.output<typeof SendRequest>;
export type DisconnectRequest = z.output<typeof DisconnectRequest>;
export type UnsubscribeRequest = z.output<typeof UnsubscribeRequest>;
export type BlockRequest = z.output<typeof BlockRequest>;
export type RevokeRequest = z.output<typeof RevokeRequest>;
export type AccessResponse = z.output<typeof AccessResponse>;
export type SubscribeRequest = z.output<typeof SubscribeRequest>;
export type HistoryRequest = z.output<typeof HistoryRequest>;
export type ChannelsRequest = z.output<typeof ChannelsRequest>;
export type PublishResponse = z.output<typeof PublishResponse>;
export type BroadcastResponse = z.output<typeof BroadcastResponse>;
export type PresenceResponse = z.output<typeof PresenceResponse>;
export type HistoryResponse = z.output<typeof HistoryResponse>;
export type ChannelsResponse = z.output<typeof ChannelsResponse>;
export type InfoResponse = z.output<typeof InfoResponse>;
