import type { PusherApp } from '../apps.ts';
import { md5, verify } from '../signatures.ts';

/** How far `auth_timestamp` may be from the server's clock (Pusher's: 600 s). */
const MAX_CLOCK_SKEW_SEC = 600;

/** A refused HTTP API request: Pusher's status and plain-text message. */
export class PusherHttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Checks Pusher's request signing: `auth_key` (the app's key), `auth_timestamp` (within 600 s),
 * `auth_version` `1.0`, `body_md5` (hex MD5 of a non-empty body) and `auth_signature`, the
 * hex HMAC-SHA256 with the app secret of `METHOD\npath\nquery`, where query is every other
 * parameter as `key=value` (keys lower-cased, sorted, values decoded) joined by `&`.
 * Throws `PusherHttpError` 401 (or 400 for a malformed query) saying what is wrong; the
 * signature is compared in constant time.
 */
export function checkSignedRequest(app: PusherApp, method: string, rawUrl: string, body: string | undefined, now = Date.now()): void {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1))) {
    const key = k.toLowerCase();
    if (params.has(key)) throw new PusherHttpError(400, `Duplicate query parameter: ${key.slice(0, 64)}`);
    params.set(key, v);
  }
  const key = params.get('auth_key');
  const ts = params.get('auth_timestamp');
  const signature = params.get('auth_signature');
  if (key === undefined || ts === undefined || signature === undefined || params.get('auth_version') === undefined) {
    throw new PusherHttpError(401, 'Missing authentication: auth_key, auth_timestamp, auth_version and auth_signature are required');
  }
  if (key !== app.key) throw new PusherHttpError(401, 'Invalid auth_key');
  if (params.get('auth_version') !== '1.0') throw new PusherHttpError(401, 'Unsupported auth_version: 1.0 only');
  const serverTs = Math.floor(now / 1000);
  if (!/^\d{1,12}$/.test(ts) || Math.abs(serverTs - Number(ts)) > MAX_CLOCK_SKEW_SEC) {
    throw new PusherHttpError(401, `Timestamp expired: Given timestamp (${ts.slice(0, 20)}) not within ${MAX_CLOCK_SKEW_SEC}s of server time (${serverTs})`);
  }
  if (body !== undefined && body.length > 0) {
    const given = params.get('body_md5');
    if (given === undefined) throw new PusherHttpError(401, 'Missing body_md5');
    if (given !== md5(body)) throw new PusherHttpError(401, 'Invalid body_md5');
  }
  params.delete('auth_signature');
  const query = [...params.keys()].sort().map((k) => `${k}=${params.get(k)}`).join('&');
  const text = `${method.toUpperCase()}\n${path}\n${query}`;
  if (!verify(app.secret, text, signature)) {
    throw new PusherHttpError(401, `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(text)}, your_secret)`);
  }
}
