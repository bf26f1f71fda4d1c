import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
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
  /** A JSON file that keeps the user directory across restarts (absent: memory only). */
  usersFile?: string;
}

/** Most users the directory keeps (a demo's people list, not an account database). */
const MAX_USERS = 1000;

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
    for (const user of this.stored()) this.users.add(user);
  }

  /** The users the file kept (none when there is no file yet, or it is unreadable). */
  private stored(): string[] {
    if (!this.o.usersFile) return [];
    try {
      const v: unknown = JSON.parse(readFileSync(this.o.usersFile, 'utf8'));
      return Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string' && USER_NAME.test(u)).slice(0, MAX_USERS) : [];
    } catch {
      return [];
    }
  }

  /** Adds a user to the directory, and to the file when there is one (written aside, then renamed). */
  private remember(user: string): void {
    if (this.users.has(user) || this.users.size >= MAX_USERS) return;
    this.users.add(user);
    if (!this.o.usersFile) return;
    try {
      mkdirSync(dirname(this.o.usersFile), { recursive: true });
      const aside = `${this.o.usersFile}.${process.pid}.tmp`;
      writeFileSync(aside, `${JSON.stringify([...this.users].sort())}\n`);
      renameSync(aside, this.o.usersFile);
    } catch (err) {
      console.error(`chat: could not keep the user list in ${this.o.usersFile}: ${(err as Error).message}`);
    }
  }

  /**
   * Starts a login: a new `sid` (another browser logging in is another login), unless this
   * browser is already logged in as `user` (`current`, from its cookie): logging in again
   * there keeps the login, so its tabs never replace each other.
   */
  async login(user: string, current?: Login): Promise<{ login: Login; cookie: string }> {
    const login = current?.user === user ? current : { user, sid: `l_${randomBytes(12).toString('base64url')}` };
    this.remember(user);
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
      if (USER_NAME.test(payload.sub)) this.remember(payload.sub);
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
