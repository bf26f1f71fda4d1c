import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isValidUserId } from '@switchboard/protocol';
import type { Config } from '../config.ts';

/** What a verified token says about its holder. */
export interface TokenClaims {
  user: string;
  /** Unix seconds; undefined when the token does not expire. */
  expiresAt: number | undefined;
  /**
   * Issued at (`iat`, Unix seconds); null for a token without `iat` (a revocation then
   * refuses it); undefined for credentials that are no token (the connect hook).
   */
  issuedAt?: number | null;
  /** Login session id (`sid`), when the issuer gives one. */
  sid: string | undefined;
  subscribe: string[];
  publish: string[];
  /** Users the holder may `send` to (claim `send`, `*` patterns); undefined when the claim is absent. */
  send?: string[];
  info: unknown;
}

/** Why a token was refused; `reason` goes on the wire (`invalid_token` or `token_expired`). */
export class TokenError extends Error {
  readonly reason: 'invalid_token' | 'token_expired';
  constructor(reason: 'invalid_token' | 'token_expired', message: string) {
    super(message);
    this.name = 'TokenError';
    this.reason = reason;
  }
}

const HMAC = new Set(['HS256', 'HS384', 'HS512']);

/**
 * Verifies JWTs with `jose` against the configured keys and algorithm allow-list.
 * HS* tokens are checked only against the secret and asymmetric ones only against the
 * public key or JWKS, so an HS256 token signed with a public key (algorithm confusion) fails.
 */
export class JwtVerifier {
  readonly enabled: boolean;
  private readonly getKey: JWTVerifyGetKey;
  private readonly options: { algorithms: string[]; audience?: string; issuer?: string; clockTolerance: number };

  constructor(auth: Config['auth']) {
    const secret: KeyObject | undefined = auth.jwtSecret ? createSecretKey(Buffer.from(auth.jwtSecret, 'utf8')) : undefined;
    const publicKey: KeyObject | undefined = auth.publicKey ? createPublicKey(auth.publicKey) : undefined;
    const jwks = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl), { timeoutDuration: 3000 }) : undefined;
    this.enabled = Boolean(secret || publicKey || jwks);
    this.options = {
      algorithms: auth.algorithms,
      ...(auth.audience ? { audience: auth.audience } : {}),
      ...(auth.issuer ? { issuer: auth.issuer } : {}),
      clockTolerance: auth.clockToleranceSec,
    };
    this.getKey = async (header, token) => {
      const alg = header.alg ?? '';
      if (HMAC.has(alg)) {
        if (!secret) throw new TokenError('invalid_token', `algorithm ${alg} needs auth.jwtSecret, which is not configured`);
        return secret;
      }
      if (publicKey) return publicKey;
      if (jwks) return jwks(header, token);
      throw new TokenError('invalid_token', `algorithm ${alg} needs auth.publicKey or auth.jwksUrl`);
    };
  }

  /** Verifies a token; throws TokenError with a reason safe to send to the client. */
  async verify(token: string): Promise<TokenClaims> {
    if (!this.enabled) throw new TokenError('invalid_token', 'token authentication is not configured');
    if (typeof token !== 'string' || token.length === 0 || token.length > 16_384) throw new TokenError('invalid_token', 'malformed token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, this.options));
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new TokenError('token_expired', 'token expired');
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw new TokenError('invalid_token', `token rejected (${code})`);
    }
    return claimsOf(payload);
  }
}

function stringList(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 255)) {
    throw new TokenError('invalid_token', `claim ${name} must be an array of strings`);
  }
  return v as string[];
}

/** Reads Switchboard's claims out of a verified payload. */
function claimsOf(p: JWTPayload): TokenClaims {
  if (!isValidUserId(p.sub)) throw new TokenError('invalid_token', 'claim sub must be a user id (A-Z a-z 0-9 _ . @ = + -, at most 128)');
  if (p.sid !== undefined && (typeof p.sid !== 'string' || p.sid.length === 0 || p.sid.length > 128)) {
    throw new TokenError('invalid_token', 'claim sid must be a string of at most 128 characters');
  }
  return {
    user: p.sub,
    expiresAt: typeof p.exp === 'number' ? p.exp : undefined,
    issuedAt: typeof p.iat === 'number' ? p.iat : null,
    sid: p.sid as string | undefined,
    subscribe: stringList(p.channels, 'channels'),
    publish: stringList(p.publish, 'publish'),
    ...(p.send !== undefined ? { send: stringList(p.send, 'send') } : {}),
    info: p.info,
  };
}
