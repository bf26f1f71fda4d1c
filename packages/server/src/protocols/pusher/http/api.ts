import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { CloseCode, ReplyError, isValidUserId } from '@switchboard/protocol';
import type { Node } from '../../../node.ts';
import type { Operations } from '../../../api/operations.ts';
import { NodeOperations } from '../../../api/node-operations.ts';
import { ApiError } from '../../../api/errors.ts';
import { httpStatusOf } from '../../../errors.ts';
import { limited } from '../../../log-limit.ts';
import type { PusherApp, PusherApps } from '../apps.ts';
import { PusherHttpError, checkSignedRequest } from './request-auth.ts';
import { PusherEvents, type TriggerRequest } from './events.ts';

export interface PusherApiOptions {
  node: Node;
  apps: PusherApps;
  /** What the routes call; one node's operations when absent. */
  operations?: Operations;
}

type Req = FastifyRequest<{ Params: { appId: string; channel?: string; userId?: string } }>;

/**
 * Pusher's HTTP API at `/apps/<id>/…` (docs/pusher.md): `events`, `batch_events`,
 * `channels`, `channels/<name>`, `channels/<name>/users`, `users/<id>/terminate_connections`,
 * each signed as Pusher signs requests (`request-auth.ts`). Errors are Pusher's: a status and
 * a plain-text message.
 */
export const pusherApiPlugin: FastifyPluginAsync<PusherApiOptions> = async (app: FastifyInstance, opts) => {
  const { node, apps } = opts;
  const ops = opts.operations ?? new NodeOperations(node);
  const events = new PusherEvents(node, ops);
  const raw = new WeakMap<FastifyRequest, string>();

  // Bodies are kept as sent (body_md5 is checked against them) and parsed after the signature.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    raw.set(req, typeof body === 'string' ? body : body.toString('utf8'));
    done(null, undefined);
  });
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof PusherHttpError) return reply.code(err.status).type('text/plain').send(err.message);
    if (err instanceof ApiError) return reply.code(err.status).type('text/plain').send(err.message);
    if (err instanceof ReplyError) return reply.code(httpStatusOf(err.code)).type('text/plain').send(err.message);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).type('text/plain').send((err as Error).message);
    limited(node.log).error({ err }, 'pusher HTTP API request failed');
    return reply.code(500).type('text/plain').send('Internal error');
  });

  /** The app of the path, the request's signature checked; the JSON body parsed. */
  const authorize = (req: Req): { app: PusherApp; body: unknown } => {
    const a = apps.withId(req.params.appId);
    if (!a) throw new PusherHttpError(404, `Unknown app: ${req.params.appId.slice(0, 64)}`);
    const text = raw.get(req);
    checkSignedRequest(a, req.method, req.url, text);
    if (text === undefined || text.trim() === '') return { app: a, body: undefined };
    try {
      return { app: a, body: JSON.parse(text, (k, v: unknown) => (k === '__proto__' ? undefined : v)) };
    } catch {
      throw new PusherHttpError(400, 'Invalid JSON body');
    }
  };
  const query = (req: Req) => req.query as Record<string, string | undefined>;

  app.post('/apps/:appId/events', async (req: Req) => {
    const { app: a, body } = authorize(req);
    return events.trigger(a, body as TriggerRequest);
  });
  app.post('/apps/:appId/batch_events', async (req: Req) => {
    const { app: a, body } = authorize(req);
    return events.batch(a, body);
  });
  app.get('/apps/:appId/channels', async (req: Req) => {
    const { app: a } = authorize(req);
    return events.channels(a, query(req).filter_by_prefix, query(req).info);
  });
  app.get('/apps/:appId/channels/:channel', async (req: Req) => {
    const { app: a } = authorize(req);
    return events.channel(a, req.params.channel!, query(req).info);
  });
  app.get('/apps/:appId/channels/:channel/users', async (req: Req) => {
    const { app: a } = authorize(req);
    return events.users(a, req.params.channel!);
  });
  app.post('/apps/:appId/users/:userId/terminate_connections', async (req: Req) => {
    authorize(req);
    const user = req.params.userId!;
    if (!isValidUserId(user)) throw new PusherHttpError(400, 'Invalid user id: 1-128 of A-Z a-z 0-9 _ . @ = + -');
    await ops.disconnect(user, { code: CloseCode.forced, reason: 'Connection terminated by the app' });
    return {};
  });
};
