import { z } from 'zod';
import { API_METHODS } from './methods.ts';
import { PushRequest, PushResponse } from './push.ts';
import { ErrorResponse } from './schemas.ts';

/** JSON Schema of a zod schema, without the `$schema` line (OpenAPI 3.1 uses draft 2020-12). */
function schemaOf(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'A field is wrong; `error.field` names it.',
  401: 'No API key, or a wrong one.',
  403: 'Refused: e.g. another user\'s personal channel `#<user>` (only its owner may be subscribed to it).',
  404: 'Unknown namespace, or the feature (history, presence) is not enabled for the channel.',
  410: 'The `since` position is no longer retained (or belongs to another epoch).',
  413: 'Request body larger than limits.maxHttpBodyBytes.',
  415: 'The body is not `Content-Type: application/json`.',
  503: 'Temporary failure (storage or broker): retry; or no API key is configured.',
};

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

function operation(name: string, summary: string, req: z.ZodType, res: z.ZodType, extra: number[]) {
  const responses: Record<string, unknown> = {
    200: { description: 'OK', content: { 'application/json': { schema: schemaOf(res, 'output') } } },
  };
  for (const status of [400, 401, ...extra, 413, 415, 503]) responses[status] = { description: STATUS_TEXT[status], content: errorContent };
  return {
    post: {
      operationId: name,
      summary,
      security: [{ apiKeyHeader: [] }, { apiKeyAuthorization: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: schemaOf(req, 'input') } } },
      responses,
    },
  };
}

/**
 * The OpenAPI 3.1 document of the server API, derived from the same zod schemas the routes
 * validate with. Served at `GET /api/openapi.json` (no key needed: it holds no data).
 */
export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const m of API_METHODS) paths[`/api/${m.name}`] = operation(m.name, m.summary, m.request, m.response, m.errors);
  paths['/api/push'] = operation('push', 'Push in the shape {"type": "single"|"room"|"all", "pointer", "content"}: send / publish / every connection.', PushRequest, PushResponse, [404]);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard server API',
      version,
      description: 'Backends publish, send, disconnect and inspect the gateway. JSON in and out; errors are {"error": {"code", "message", "field"?}}. This document is served by the gateway at GET /api/openapi.json (no key needed).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    // Relative: the gateway that serves this document (its scheme, host and port).
    servers: [{ url: '/', description: 'The gateway serving this document' }],
    components: {
      securitySchemes: {
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        apiKeyAuthorization: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'The value "apikey <key>".' },
      },
      schemas: { Error: schemaOf(ErrorResponse, 'output') },
    },
    paths,
  };
}
