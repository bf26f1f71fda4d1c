import { createHmac, createHash, timingSafeEqual } from 'node:crypto';

/**
 * Pusher's signatures: hex HMAC-SHA256 with the app secret, of `socket_id:channel[:channel_data]`
 * (channel authorization), `socket_id::user::user_data` (user authentication), the request
 * (HTTP API) and the body (webhooks). Every check compares in constant time.
 */
export function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

/** True when `given` is the signature of `text` (constant time; any other shape is false). */
export function verify(secret: string, text: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== 64) return false;
  const want = Buffer.from(sign(secret, text), 'utf8');
  const got = Buffer.from(given, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Checks an `auth` field (`<app key>:<signature>`) against `text`; the key must be the
 * app's. Constant time in the signature.
 */
export function verifyAuth(app: { key: string; secret: string }, text: string, auth: unknown): boolean {
  if (typeof auth !== 'string') return false;
  const colon = auth.indexOf(':');
  if (colon === -1) return false;
  const keyOk = auth.slice(0, colon) === app.key;
  const sigOk = verify(app.secret, text, auth.slice(colon + 1));
  return keyOk && sigOk;
}

/** Hex MD5 of a request body (`body_md5`). */
export function md5(body: string | Buffer): string {
  return createHash('md5').update(body).digest('hex');
}
