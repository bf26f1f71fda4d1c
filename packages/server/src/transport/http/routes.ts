import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BATCH_QUERY_FLAG } from '@switchboard/protocol';
import type { Node } from '../../node.ts';
import { KeyedRateLimiter } from '../../rate-limit.ts';
import { originAllowed } from '../origin.ts';
import { clientIp, forwardedHeaderNames, upgradeContext } from '../context.ts';
import type { HttpTransportName } from './http-session.ts';
import { SessionIds } from './session-id.ts';
import type { HttpSessions, OpResult, SessionOp } from './sessions.ts';
import type { Relay } from './relay.ts';

/** What the HTTP-transport routes need. */
export interface HttpTransportOptions {
  node: Node;
  sessions: HttpSessions;
  /** Routes operations on other nodes' sessions; absent on a node without a cluster broker. */
  relay?: Relay;
}

/**
 * One error answer in the server's one error shape, `{"error": {"code", "message"}}` (as the
 * server API's): a documented code and a human message (docs/transports.md).
 */
function fail(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ error: { code, message } }));
}

const STATUS_ERRORS = new Map<number, [string, string]>([
  [400, ['bad_request', 'bad request']],
  [404, ['unknown_connection', 'no such connection (ended, expired, or never valid): open a new one']],
  [409, ['bad_seq', 'seq is not the number of the last batch received']],
  [503, ['unavailable', 'the node holding this connection cannot be reached; reconnect']],
  [504, ['unavailable', 'the node holding this connection did not answer; reconnect']],
]);

/**
 * The HTTP fallback transports (docs/transports.md): `GET /stream` (HTTP-streaming),
 * `GET /sse` (server-sent events), `GET /poll` (long-polling), `POST /send` (commands) and
 * `POST /close`. Same defences as the WebSocket endpoint: origin allow-list (CORS headers
 * only for allowed origins), per-IP rate of new connections, the connection's own command,
 * byte and queue limits; ids and tokens are never logged.
 */
export async function httpTransportsPlugin(app: FastifyInstance, o: HttpTransportOptions): Promise<void> {
  const { node, sessions, relay } = o;
  const { config } = node;
  const forward = forwardedHeaderNames(config);
  const perIp = new KeyedRateLimiter(config.limits.connectionsPerIpPerSecond, config.limits.connectionsPerIpPerSecond * 2);
  const requestsPerIp = new KeyedRateLimiter(config.limits.httpRequestsPerIpPerSecond, config.limits.httpRequestsPerIpPerSecond * 2);
  // Command bodies are read raw (any content type: browsers send text/plain, which needs no preflight).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.limits.maxHttpBodyBytes }, (_req, body, done) => done(null, body));

  /** CORS headers for an allowed origin; undefined (and a 403 sent) for a refused one. */
  const corsFor = (req: FastifyRequest, reply: FastifyReply): Record<string, string> | undefined => {
    const origin = req.headers.origin;
    if (!originAllowed(origin, config.allowedOrigins)) {
      void fail(reply, 403, 'origin_not_allowed', 'origin not allowed');
      return undefined;
    }
    if (origin === undefined) return {};
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
  };

  const urlOf = (req: FastifyRequest) => new URL(req.url, 'http://gateway');

  /**
   * Checks shared by every request on an open connection (`/poll?conn=`, `/send`, `/close`):
   * they need no credential to be made, so they are bounded per IP like the opening requests.
   * Undefined once an error is sent.
   */
  const admitRequest = (req: FastifyRequest, reply: FastifyReply): Record<string, string> | undefined => {
    const cors = corsFor(req, reply);
    if (!cors) return undefined;
    if (!requestsPerIp.take(clientIp(req.raw))) return void fail(reply.headers(cors), 429, 'too_many_requests', 'too many requests from this address; slow down');
    return cors;
  };

  /** Checks shared by every request that opens a connection; undefined once an error is sent. */
  const admit = (req: FastifyRequest, reply: FastifyReply): Record<string, string> | undefined => {
    const cors = corsFor(req, reply);
    if (!cors) return undefined;
    if (!node.accepting) return void fail(reply.headers(cors), 503, 'shutting_down', 'this node is shutting down; try again');
    if (!perIp.take(clientIp(req.raw))) return void fail(reply.headers(cors), 429, 'too_many_requests', 'too many new connections from this address');
    return cors;
  };

  const batchOf = (url: URL) => ['1', 'true'].includes(url.searchParams.get(BATCH_QUERY_FLAG) ?? '');

  const openStream = (name: HttpTransportName) => async (req: FastifyRequest, reply: FastifyReply) => {
    const cors = admit(req, reply);
    if (!cors) return reply;
    const url = urlOf(req);
    const ctx = upgradeContext(req.raw, url, config, forward);
    reply.hijack();
    const res = reply.raw;
    req.raw.socket.setTimeout(0);
    req.raw.socket.setNoDelay(true);
    res.writeHead(200, {
      ...cors,
      'content-type': name === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-cache, no-store, no-transform',
      'x-accel-buffering': 'no', // nginx: do not buffer this response
    });
    sessions.open(name, ctx, batchOf(url), res);
    return reply;
  };

  /** Runs an operation here or on the node named in its id. */
  const route = (op: SessionOp, timeoutMs: number): OpResult | Promise<OpResult> => {
    const parsed = SessionIds.parse(op.conn);
    if (!parsed) return { status: 400, body: 'conn is not a connection id' };
    if (parsed.node === sessions.ids.node) return sessions.run(op);
    if (!relay) return { status: 404 };
    return relay.request(parsed.node, op, timeoutMs);
  };

  const answer = (reply: FastifyReply, cors: Record<string, string>, r: OpResult): FastifyReply => {
    reply.headers({ ...cors, 'cache-control': 'no-store' });
    if (r.status === 200) return reply.code(200).header('content-type', 'application/x-ndjson; charset=utf-8').send(r.body ?? '');
    if (r.status < 300) return reply.code(r.status).send();
    const [error, message] = STATUS_ERRORS.get(r.status) ?? ['bad_request', 'bad request'];
    return fail(reply, r.status, error, r.body ?? message);
  };

  const relayTimeout = 10_000;
  const noHead = { exposeHeadRoute: false };

  app.get('/stream', noHead, openStream('http-stream'));
  app.get('/sse', noHead, openStream('sse'));

  app.get('/poll', noHead, async (req, reply) => {
    const url = urlOf(req);
    const conn = url.searchParams.get('conn');
    if (conn === null) {
      const cors = admit(req, reply);
      if (!cors) return reply;
      const s = sessions.open('long-polling', upgradeContext(req.raw, url, config, forward), batchOf(url));
      return answer(reply, cors, { status: 200, body: s.opened().toString('utf8') });
    }
    const cors = admitRequest(req, reply);
    if (!cors) return reply;
    const seq = Number(url.searchParams.get('seq') ?? 'NaN');
    if (!Number.isSafeInteger(seq) || seq < 0) return fail(reply.headers(cors), 400, 'bad_request', 'seq must be the number of the last batch received (0 at first)');
    req.raw.socket.setTimeout(0);
    return answer(reply, cors, await route({ op: 'poll', conn, seq }, sessions.pollTimeoutMs + relayTimeout));
  });

  app.post('/send', async (req, reply) => {
    const cors = admitRequest(req, reply);
    if (!cors) return reply;
    const conn = urlOf(req).searchParams.get('conn');
    if (conn === null) return fail(reply.headers(cors), 400, 'bad_request', 'conn (the connection id) is required');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!isUtf8(body)) return fail(reply.headers(cors), 400, 'bad_request', 'the body is not valid UTF-8');
    return answer(reply, cors, await route({ op: 'send', conn, body: body.toString('utf8') }, relayTimeout));
  });

  app.post('/close', async (req, reply) => {
    const cors = admitRequest(req, reply);
    if (!cors) return reply;
    const conn = urlOf(req).searchParams.get('conn');
    if (conn === null) return fail(reply.headers(cors), 400, 'bad_request', 'conn (the connection id) is required');
    return answer(reply, cors, await route({ op: 'close', conn }, relayTimeout));
  });

  // Preflight (a client that sends Authorization or a JSON content type): allowed origins only.
  for (const path of ['/stream', '/sse', '/poll', '/send', '/close']) {
    app.options(path, async (req, reply) => {
      const cors = corsFor(req, reply);
      if (!cors) return reply;
      return reply.code(204).headers({
        ...cors,
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      }).send();
    });
  }
}
