import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

/** A user name the demo accepts: what the gateway accepts as a user id, kept short for the UI. */
export const USER_NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** One login: a user in one browser. Its `sid` is shared by that browser's tabs. */
export interface Login {
  user: string;
  sid: string;
}

export interface LoginsOptions {
  /** The gateway's HS256 secret (`auth.jwtSecret`): gateway tokens are signed with it. */
  secret: string;
  /** Lifetime of a gateway token, in seconds (short: the SDK refreshes it). */
  tokenTtlSec: number;
  /** Lifetime of a login (the cookie), in seconds. */
  loginTtlSec: number;
}

/**
 * Demo authentication: a login is a signed, HttpOnly cookie (`sub` + `sid`); the page trades
 * it for short-lived gateway tokens. A real application does the same with its own session
 * (password, OAuth…): only `mintToken` is Switchboard-specific.
 */
export class Logins {
  private readonly o: LoginsOptions;
  private readonly gatewayKey: Uint8Array;
  /** The cookie is signed with a key derived from the secret, so a cookie is never a gateway token. */
  private readonly cookieKey: Uint8Array;
  /** Every user who has logged in (the directory the user list starts from). */
  readonly users = new Set<string>();

  constructor(o: LoginsOptions) {
    this.o = o;
    this.gatewayKey = new TextEncoder().encode(o.secret);
    this.cookieKey = createHash('sha256').update(`switchboard-chat-login:${o.secret}`).digest();
  }

  /**
   * Starts a login: a new `sid` (another browser logging in is another login), unless this
   * browser is already logged in as `user` (`current`, from its cookie): logging in again
   * there keeps the login, so its tabs never replace each other.
   */
  async login(user: string, current?: Login): Promise<{ login: Login; cookie: string }> {
    const login = current?.user === user ? current : { user, sid: `l_${randomBytes(12).toString('base64url')}` };
    this.users.add(user);
    const cookie = await new SignJWT({ sid: login.sid })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setAudience('chat-login')
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.o.loginTtlSec)
      .sign(this.cookieKey);
    return { login, cookie };
  }

  /** The login a cookie value stands for, or undefined (missing, forged, expired). */
  async verify(cookie: string | undefined): Promise<Login | undefined> {
    if (!cookie) return undefined;
    try {
      const { payload } = await jwtVerify(cookie, this.cookieKey, { audience: 'chat-login', algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
      this.users.add(payload.sub);
      return { user: payload.sub, sid: payload.sid };
    } catch {
      return undefined;
    }
  }

  /**
   * A gateway token for a login: `sub` = the user, `sid` = the login (single sign-on counts
   * logins by it), room channels to read and write. The personal channel `#<user>` needs no
   * grant: its owner may always read it, and `send` writes to others'.
   */
  mintToken(login: Login): Promise<string> {
    return new SignJWT({ sid: login.sid, channels: ['chat:*'], publish: ['chat:*'], info: { name: login.user } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(login.user)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.o.tokenTtlSec)
      .sign(this.gatewayKey);
  }
}
