/**
 * The token route: `GET /api/token?user=<name>` signs a short-lived gateway token with the
 * gateway's secret, which stays on the server (`SWITCHBOARD_JWT_SECRET`). A real application
 * signs its users in first and mints the token for the session's user; this demo trusts the
 * name in the query.
 */
import { SignJWT } from 'jose';

/** A user name: what this demo trusts as a login. */
const USER = /^[A-Za-z0-9_-]{1,32}$/;

export async function GET(req: Request): Promise<Response> {
  const secret = process.env.SWITCHBOARD_JWT_SECRET;
  if (!secret) return Response.json({ error: 'SWITCHBOARD_JWT_SECRET is not set on the server' }, { status: 500 });
  const user = new URL(req.url).searchParams.get('user') ?? '';
  if (!USER.test(user)) return Response.json({ error: 'user: 1-32 of A-Z a-z 0-9 _ -' }, { status: 400 });
  const token = await new SignJWT({ channels: ['news:*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));
  return Response.json({ token }, { headers: { 'cache-control': 'no-store' } });
}
