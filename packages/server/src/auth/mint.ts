import { SignJWT } from 'jose';

export interface MintOptions {
  sub: string;
  secret: string;
  channels?: string[];
  publish?: string[];
  /** Users the holder may `send` to (patterns); absent: no restriction. */
  send?: string[];
  /** Lifetime in seconds; 0 or undefined: no `exp`. */
  ttlSec?: number;
  sid?: string;
  info?: unknown;
  alg?: 'HS256' | 'HS384' | 'HS512';
  audience?: string;
  issuer?: string;
}

/** Mints an HS* token with Switchboard's claims (the CLI's `token` command, tests, demos). */
export async function mintToken(o: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (o.channels?.length) claims.channels = o.channels;
  if (o.publish?.length) claims.publish = o.publish;
  if (o.send) claims.send = o.send;
  if (o.sid) claims.sid = o.sid;
  if (o.info !== undefined) claims.info = o.info;
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: o.alg ?? 'HS256' }).setSubject(o.sub).setIssuedAt();
  if (o.ttlSec) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlSec);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  return jwt.sign(new TextEncoder().encode(o.secret));
}
