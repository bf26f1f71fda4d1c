import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import type { Node } from '../node.ts';
import { ApiKeyChecker } from './auth.ts';
import { ApiError, fromZodError, makeErrorHandler } from './errors.ts';
import { API_METHODS } from './methods.ts';
import { NodeOperations } from './node-operations.ts';
import type { Operations } from './operations.ts';
import { PushRequest, runPush } from './push.ts';
import { buildOpenApi } from './openapi.ts';
import { traceparentHeader } from '../tracing/tracing.ts';

export interface ApiPluginOptions {
  node: Node;
  /** What the routes call; one node's operations when absent (a cluster may pass its own). */
  operations?: Operations;
  /** Version shown in the OpenAPI document. */
  version?: string;
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw fromZodError(r.error);
  return r.data;
}

/**
 * The server API under the prefix it is registered with (`/api`): every method of
 * `API_METHODS` as `POST /api/<name>`, `POST /api/push`, and `GET /api/openapi.json`.
 * Every route but the document needs an API key; errors are `{"error": {code, message}}`.
 */
export const apiPlugin: FastifyPluginAsync<ApiPluginOptions> = async (app: FastifyInstance, opts) => {
  const { node } = opts;
  const ops = opts.operations ?? new NodeOperations(node);
  const keys = new ApiKeyChecker(node.config.apiKeys);
  const openapi = buildOpenApi(opts.version ?? '1');

  app.setErrorHandler(makeErrorHandler(node.log));
  // An empty body counts as `{}` (curl -X POST without -d); anything else goes to fastify's
  // JSON parser, which refuses __proto__ and constructor.prototype keys.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return json(req, text, done);
  });
  // Fastify also parses text/plain by default; the API takes JSON only (415 otherwise).
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    void reply.code(404).send(new ApiError(404, 'not_found', `no such server API route: ${req.method} ${path} (see GET /api/openapi.json)`).toBody());
  });

  app.get('/openapi.json', async () => openapi);

  app.register(async (secured) => {
    secured.addHook('onRequest', async (req) => keys.check(req));
    const { tracing } = node;
    for (const m of API_METHODS) {
      const run = (body: unknown) => m.run(ops, parse(m.request, body));
      // Traced: a server span per call, continuing the caller's `traceparent` (docs/tracing.md).
      secured.post(`/${m.name}`, async (req) => (tracing.enabled
        ? tracing.span(`POST /api/${m.name}`, { kind: 'server', parent: traceparentHeader(req.headers), attributes: { 'http.request.method': 'POST', 'http.route': `/api/${m.name}` } }, () => run(req.body))
        : run(req.body)));
    }
    secured.post('/push', async (req) => runPush(ops, parse(PushRequest, req.body)));
  });
};
