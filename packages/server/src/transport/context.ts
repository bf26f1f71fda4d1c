import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.ts';
import type { UpgradeContext } from './transport.ts';

/** The client's address as this node sees it. */
export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Request headers that backend hooks may receive: the union of every hook's `forwardHeaders`. */
export function forwardedHeaderNames(config: Config): string[] {
  const h = config.hooks;
  return [...new Set([h.connect, h.subscribe, h.publish, h.refresh].flatMap((x) => x.forwardHeaders))];
}

function pickHeaders(req: IncomingMessage, names: readonly string[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const name of names) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(', ');
  }
  return out;
}

/**
 * What a connection learns from the request that opens it (a WebSocket upgrade or an HTTP
 * transport's stream/poll): credentials from `Authorization: Bearer` or `?token=` (when
 * allowed), `?session=`, the forwarded headers, origin and user agent. Nothing here is logged.
 */
export function upgradeContext(req: IncomingMessage, url: URL, config: Config, forward: readonly string[]): UpgradeContext {
  const auth = req.headers.authorization;
  const bearer = typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : undefined;
  const queryToken = config.auth.allowQueryToken ? url.searchParams.get('token') ?? undefined : undefined;
  const origin = req.headers.origin;
  const query = Object.create(null) as Record<string, string>;
  let params = 0;
  for (const [k, v] of url.searchParams) {
    if (k === 'token' || k === 'session' || ++params > 32) continue;
    query[k] = v.slice(0, 256);
  }
  return {
    ip: clientIp(req),
    path: url.pathname,
    query,
    headers: pickHeaders(req, forward),
    ...(bearer || queryToken ? { token: bearer || queryToken } : {}),
    ...(url.searchParams.get('session') ? { session: url.searchParams.get('session')! } : {}),
    ...(origin ? { origin } : {}),
    ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
  };
}
