import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import { ApiError, makeErrorHandler } from '../api/errors.ts';
import { SESSION_COOKIE, type AdminAuth } from './admin-auth.ts';
import type { AdminAssets, Asset } from './assets.ts';
import { adminApi, type AdminApiOptions } from './admin-api.ts';

export interface AdminPluginOptions extends AdminApiOptions {
  auth: AdminAuth;
  /** The built UI; undefined when it was not built (the page then says how to build it). */
  assets: AdminAssets | undefined;
  /** Mark the cookie `Secure` (the gateway serves TLS). */
  secureCookie: boolean;
}

/** Headers on every admin answer: no framing, no sniffing, no referrer, scripts from here only. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = '<!doctype html><title>Switchboard admin</title><p>The admin UI is not built. Run <code>npm start</code> or <code>node packages/server/admin-ui/build.ts</code> and restart the gateway.</p>';

function send(req: FastifyRequest, reply: FastifyReply, a: Asset, cache: string): FastifyReply {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  void reply.header('content-type', a.type).header('cache-control', cache).header('vary', 'accept-encoding');
  if (gzip) void reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? a.gzip : a.body);
}

/**
 * A state-changing request must come from the admin page itself: its `Origin` names the
 * host it was sent to (a cross-site form or script cannot forge that), and a browser's
 * `Sec-Fetch-Site`, when present, says `same-origin`. Together with the SameSite=Strict
 * cookie and JSON-only bodies, this is the CSRF defence.
 */
function checkSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  let originHost: string | undefined;
  try {
    originHost = typeof origin === 'string' ? new URL(origin).host : undefined;
  } catch {
    originHost = undefined;
  }
  const site = req.headers['sec-fetch-site'];
  if (originHost === undefined || host === undefined || originHost.toLowerCase() !== host.toLowerCase() || (site !== undefined && site !== 'same-origin')) {
    throw new ApiError(403, 'permission_denied', 'cross-origin request refused: send it from the admin page (Origin must match Host)');
  }
}

/**
 * The admin web UI under `/admin/` (register with that prefix, only when a password is set):
 * the page and its assets (hashed names: cached immutably; the page: no-cache), login and
 * logout, and the admin API under `/admin/api/` (401 without a session).
 */
export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app: FastifyInstance, o) => {
  await app.register(cookie);
  app.setErrorHandler(makeErrorHandler(o.log));
  // JSON bodies only (fastify also parses text/plain by default): anything else is 415, so a
  // cross-site HTML form (text/plain, urlencoded, multipart) can never reach a handler.
  app.removeContentTypeParser('text/plain');
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.headers(SECURITY_HEADERS);
    return payload;
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new ApiError(404, 'not_found', `no such admin route: ${req.method} ${req.url.split('?')[0]}`).toBody());
  });

  app.get('/', async (req, reply) => {
    if (!o.assets) return reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    return send(req, reply, o.assets.index, 'no-cache');
  });
  app.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
    const a = o.assets?.files.get(req.params.file);
    if (!a) throw new ApiError(404, 'not_found', 'no such asset');
    return send(req, reply, a, 'public, max-age=31536000, immutable');
  });

  const cookieOptions = { path: '/admin', httpOnly: true, sameSite: 'strict' as const, secure: o.secureCookie };

  app.post('/api/login', async (req, reply) => {
    checkSameOrigin(req);
    const password = (req.body as { password?: unknown } | undefined)?.password;
    const { id, expiresAt } = await o.auth.login(req.ip, password);
    void reply.setCookie(SESSION_COOKIE, id, { ...cookieOptions, maxAge: Math.floor(o.auth.sessionTtlMs / 1000), expires: new Date(expiresAt) });
    return { expiresAt };
  });
  app.post('/api/logout', async (req, reply) => {
    checkSameOrigin(req);
    await o.auth.logout(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return {};
  });

  await app.register(async (secured) => {
    secured.addHook('onRequest', async (req) => {
      const expiresAt = await o.auth.check(req.cookies[SESSION_COOKIE]);
      if (expiresAt === undefined) throw new ApiError(401, 'unauthorized', 'log in first (no admin session, or it expired)');
      if (req.method !== 'GET' && req.method !== 'HEAD') checkSameOrigin(req);
    });
    secured.get('/session', async (req) => ({ expiresAt: await o.auth.check(req.cookies[SESSION_COOKIE]) }));
    const { prefix: _prefix, ...options } = o as AdminPluginOptions & { prefix?: string };
    await secured.register(adminApi, options);
  }, { prefix: '/api' });
};
