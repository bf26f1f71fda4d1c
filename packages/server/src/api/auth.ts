import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** How to configure a key, told to callers of a gateway that has none. */
const NO_KEY_MESSAGE =
  'the server API is disabled: no API key is configured. Set "apiKeys": ["<at least 16 characters>"] in the config file ' +
  'or SWITCHBOARD_API_KEY=<key> (comma-separated for several), then send it as "Authorization: apikey <key>" or "X-API-Key: <key>"';

/**
 * Checks server API keys. Keys are kept only as SHA-256 digests and compared with
 * `timingSafeEqual` against every configured key (no early exit), so neither the key nor
 * which key matched leaks through timing. Keys are never logged.
 */
export class ApiKeyChecker {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get configured(): boolean {
    return this.digests.length > 0;
  }

  /** True when `presented` is one of the configured keys. */
  matches(presented: string): boolean {
    const d = digest(presented);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(d, k) || ok;
    return ok;
  }

  /** Throws 503 when no key is configured, 401 when the request has no key or a wrong one. */
  check(req: FastifyRequest): void {
    if (!this.configured) throw new ApiError(503, 'not_available', NO_KEY_MESSAGE);
    const presented = presentedKey(req);
    if (presented === undefined) {
      throw new ApiError(401, 'unauthorized', 'missing API key: send "Authorization: apikey <key>" or "X-API-Key: <key>"');
    }
    if (!this.matches(presented)) throw new ApiError(401, 'unauthorized', 'invalid API key');
  }
}

/** The key from `Authorization: apikey <key>` or `X-API-Key: <key>`, if any. */
function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^apikey\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = req.headers['x-api-key'];
  if (typeof x === 'string' && x.trim() !== '') return x.trim();
  return undefined;
}
