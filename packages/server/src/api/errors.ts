import { ReplyError, type ErrorCode } from '@switchboard/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError } from 'zod';
import type { Logger } from '../logger.ts';
import { httpStatusOf } from '../errors.ts';

/** Error codes of the server API: the protocol's reply codes plus `not_found` (no such route). */
export type ApiErrorCode = ErrorCode | 'not_found';

/** The body of every error answer: `{"error": {"code", "message", "field"?}}`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; field?: string; temporary?: boolean };
}

/** An error answer with its HTTP status. Route handlers throw it; one handler renders it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  /** The request field that was wrong (`channel`, `channels.2`, …). */
  readonly field: string | undefined;
  readonly temporary: boolean;
  constructor(status: number, code: ApiErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.temporary = code === 'internal' || code === 'too_many_requests';
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}), ...(this.temporary ? { temporary: true } : {}) } };
  }
}

/** A ReplyError thrown by the node as an ApiError; `field` names the request field it concerns. */
export function fromReplyError(err: ReplyError, field?: string): ApiError {
  const message = field !== undefined && err.code === 'bad_request' ? `${field}: ${err.message}` : err.message;
  return new ApiError(httpStatusOf(err.code), err.code, message, err.code === 'bad_request' ? field : undefined);
}

/**
 * A rejection handler that re-labels an ApiError about field `from` as one about `to` (its
 * message's leading field name too), for an operation built on another one; rethrows the rest.
 */
export function renameField(from: string, to: string) {
  return (err: unknown): never => {
    if (err instanceof ApiError && err.field === from) {
      throw new ApiError(err.status, err.code, err.message.replace(new RegExp(`^${from}`), to), to);
    }
    throw err;
  };
}

/** The first zod issue as a 400 that names the field. */
export function fromZodError(err: ZodError): ApiError {
  const issue = err.issues[0]!;
  const field = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) message = `is required (${issue.expected})`;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return new ApiError(400, 'bad_request', field ? `${field}: ${message}` : `body: ${message}`, field || (issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined));
}

/**
 * Renders whatever a route threw: ApiError as is; fastify's own errors (body too large, bad
 * JSON, wrong content type) as their status; ReplyError by its code (`internal`: a store or
 * broker failure, 503, logged by the node rate-limited); anything else as a temporary 503 (a store or broker failed: nothing was acknowledged, retrying is safe with an
 * `idempotencyKey`). Never logs request bodies or keys.
 */
export function makeErrorHandler(log: Logger) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    const e = toApiError(err, log, req.url);
    if (e.temporary) void reply.header('retry-after', '1');
    void reply.code(e.status).send(e.toBody());
  };
}

function toApiError(err: FastifyError | Error, log: Logger, url: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ReplyError) {
    // A store or broker failure the node already reported (one warn line a second at most).
    if (err.code === 'internal') log.debug({ path: url.split('?')[0] }, 'server API request failed (temporary)');
    return fromReplyError(err);
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'limit_exceeded', 'request body too large (limits.maxHttpBodyBytes)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'bad_request', 'send the body as JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'bad_request', 'body: empty; send a JSON object (at least {})');
    default:
      break;
  }
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's JSON parser errors (FST_ERR_CTP_INVALID_JSON and the like).
    return new ApiError(fe.statusCode, 'bad_request', `body: ${fe.message}`);
  }
  log.error({ err, path: url.split('?')[0] }, 'server API request failed');
  return new ApiError(503, 'internal', 'temporary failure (storage or broker); retry the request');
}
