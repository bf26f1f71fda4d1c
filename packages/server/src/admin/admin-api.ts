import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CloseCode, isValidUserId } from '@switchboard/protocol';
import { ApiError, fromZodError } from '../api/errors.ts';
import { ChannelsRequest, PublishRequest } from '../api/schemas.ts';
import { API_METHODS } from '../api/methods.ts';
import type { Logger } from '../logger.ts';
import type { Operations } from '../api/operations.ts';
import type { AdminStore } from './admin-store.ts';
import type { NodeQueries } from './node-queries.ts';
import { MAX_VIEW_CONNECTIONS } from './connection-view.ts';
import { clusterSeries } from './overview.ts';
import type { OutboxLag } from '../outbox/outbox.ts';

function parse<S extends z.ZodType>(schema: S, v: unknown): z.output<S> {
  const r = schema.safeParse(v ?? {});
  if (!r.success) throw fromZodError(r.error);
  return r.data;
}

const user = z.string().refine(isValidUserId, 'must be a user id: 1-128 of A-Z a-z 0-9 _ . @ = + -');
const ConnectionsQuery = z.strictObject({
  user: user.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_VIEW_CONNECTIONS).default(100),
});
const ChannelQuery = z.strictObject({ name: z.string().min(1).max(255) });
const UserBody = z.strictObject({ user });
/** Server API methods the Users page calls as they are (same validation, same operations). */
const ACCESS_METHODS = new Set(['block', 'unblock', 'revoke', 'access']);
/** Publications the channel page shows. */
const HISTORY_SHOWN = 20;

/** What the admin API routes work with. */
export interface AdminApiOptions {
  ops: Operations;
  store: AdminStore;
  queries: NodeQueries;
  /** The stats sampling interval (ms), told to the UI. */
  intervalMs: number;
  log: Logger;
  /** The transactional outbox's lag (`outbox.postgres` set on this node). */
  outboxLag?: () => Promise<OutboxLag>;
}

/** The answer of an optional part of a page: its value, or why it is not there. */
async function part<T>(p: Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await p };
  } catch (err) {
    return { error: err instanceof ApiError ? err.message : 'temporarily unavailable' };
  }
}

/**
 * The admin API routes (behind the session check of `adminPlugin`): overview stats of every
 * node, channels (search, detail, publish) and connections of users (look-up, disconnect).
 * Channel and delivery work goes through the server API's `Operations`, so it behaves as the
 * HTTP server API does, cluster-wide.
 */
export const adminApi: FastifyPluginAsync<AdminApiOptions> = async (app: FastifyInstance, o) => {
  app.get('/overview', async () => {
    const [nodes, outbox] = await Promise.all([o.store.nodes(), o.outboxLag?.()]);
    return { now: Date.now(), intervalMs: o.intervalMs, cluster: clusterSeries(nodes), nodes, ...(outbox ? { outbox } : {}) };
  });

  app.get('/channels', async (req) => {
    const { pattern } = parse(ChannelsRequest, req.query);
    const { channels } = await o.ops.channels(pattern);
    return { channels: channels.slice(0, 500), total: channels.length };
  });

  app.get('/channel', async (req) => {
    const { name } = parse(ChannelQuery, req.query);
    const [all, presence, history] = await Promise.all([
      o.ops.channels(),
      part(o.ops.presence(name)),
      part(o.ops.history({ channel: name, limit: HISTORY_SHOWN, reverse: true })),
    ]);
    const subscribers = all.channels.find((c) => c.channel === name)?.subscribers ?? 0;
    return {
      channel: name,
      subscribers,
      presence: 'value' in presence ? { users: Object.values(presence.value.presence) } : presence,
      history: 'value' in history ? { epoch: history.value.epoch, offset: history.value.offset, publications: history.value.publications } : history,
    };
  });

  app.post('/publish', async (req) => {
    const body = parse(PublishRequest, req.body);
    return o.ops.publish(body.channel, body.data, body.idempotencyKey);
  });

  // The live view: every node's connection events after `since` (Unix ms; default: all kept).
  app.get('/events', async (req) => {
    const since = Number((req.query as { since?: unknown } | undefined)?.since ?? 0);
    return o.queries.events(Number.isFinite(since) && since > 0 ? since : 0);
  });

  app.get('/connections', async (req) => {
    const q = parse(ConnectionsQuery, req.query);
    return o.queries.connections({ limit: q.limit, ...(q.user !== undefined ? { user: q.user } : {}) });
  });

  // Block, unblock, revoke and the user's access state: the server API's own methods.
  for (const m of API_METHODS.filter((x) => ACCESS_METHODS.has(x.name))) {
    app.post(`/${m.name}`, async (req) => {
      const body = parse(m.request, req.body) as { user: string };
      const answer = await m.run(o.ops, body);
      if (m.name !== 'access') o.log.info({ user: body.user, action: m.name }, 'admin: user access changed');
      return answer;
    });
  }

  app.post('/disconnect', async (req) => {
    const { user: u } = parse(UserBody, req.body);
    await o.ops.disconnect(u, { code: CloseCode.forced, reason: 'forced' });
    o.log.info({ user: u }, 'admin: user disconnected');
    return {};
  });
};
