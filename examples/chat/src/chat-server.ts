import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { fileURLToPath } from 'node:url';
import { Logins, USER_NAME } from './logins.ts';
import { readStatic } from './static-files.ts';

/** Options of `startChatServer`. */
export interface ChatServerOptions {
  /** The gateway's HS256 secret (the same `auth.jwtSecret`). */
  secret: string;
  /** Directory holding the SDK's browser bundle `switchboard.mjs` (the client package's `dist/`). */
  sdkDir: string;
  /** Port (default 0: any free port) and address to listen on (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** The gateway's WebSocket URL as the browser must use it. Default: this page's host name, port `gatewayPort`, path `/ws`. */
  gatewayUrl?: string;
  /** Gateway port when `gatewayUrl` is not given (default 8080). */
  gatewayPort?: number;
  /** Gateway token lifetime in seconds (default 300: the SDK refreshes it before it expires). */
  tokenTtlSec?: number;
  /** Login (cookie) lifetime in seconds (default 12 hours). */
  loginTtlSec?: number;
  /** A JSON file that keeps the People list (every user who logged in) across restarts; absent: memory only. */
  usersFile?: string;
  /** Rooms offered (channels `chat:<room>`). Default lobby, random, help. */
  rooms?: string[];
}

/** A running chat server. */
export interface ChatServer {
  url: string;
  logins: Logins;
  close(): Promise<void>;
}

/** The localStorage key the page keeps the gateway token under (the SDK's `tokenStorageKey`): tabs share it. */
export const TOKEN_STORAGE_KEY = 'switchboard-chat:token';
const COOKIE = 'chat_login';
const PUBLIC = fileURLToPath(new URL('../public/', import.meta.url));

function cookieOf(req: FastifyRequest): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

function setCookie(reply: FastifyReply, value: string, maxAgeSec: number): void {
  reply.header('set-cookie', `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}`);
}

const fail = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ error: { code, message } });

/**
 * The chat example's companion server: serves the page (plain ES modules and the SDK's
 * browser bundle) and a demo login that mints gateway tokens. It never sees messages: the
 * page talks to the gateway directly.
 */
export async function startChatServer(o: ChatServerOptions): Promise<ChatServer> {
  const tokenTtlSec = o.tokenTtlSec ?? 300;
  const loginTtlSec = o.loginTtlSec ?? 12 * 3600;
  const rooms = o.rooms ?? ['lobby', 'random', 'help'];
  const logins = new Logins({ secret: o.secret, tokenTtlSec, loginTtlSec, ...(o.usersFile ? { usersFile: o.usersFile } : {}) });
  const app = Fastify({ logger: false });

  app.get('/config.json', async (req) => ({
    gateway: o.gatewayUrl ?? `ws://${req.hostname.replace(/:\d+$/, '')}:${o.gatewayPort ?? 8080}/ws`,
    rooms,
    tokenStorageKey: TOKEN_STORAGE_KEY,
  }));

  app.post('/api/login', async (req, reply) => {
    const user = (req.body as { user?: unknown } | undefined)?.user;
    if (typeof user !== 'string' || !USER_NAME.test(user)) {
      return fail(reply, 400, 'bad_request', 'user: 1-32 letters, digits, _ . or -');
    }
    const { login, cookie } = await logins.login(user, await logins.verify(cookieOf(req)));
    setCookie(reply, cookie, loginTtlSec);
    return { user, token: await logins.mintToken(login) };
  });

  // The SDK's token provider calls this before the token expires (and on reconnect with an expired one).
  app.post('/api/token', async (req, reply) => {
    const login = await logins.verify(cookieOf(req));
    if (!login) return fail(reply, 401, 'unauthorized', 'not logged in');
    return { user: login.user, token: await logins.mintToken(login) };
  });

  app.post('/api/logout', async (_req, reply) => {
    setCookie(reply, '', 0);
    return reply.code(204).send();
  });

  app.get('/api/users', async (req, reply) => {
    if (!(await logins.verify(cookieOf(req)))) return fail(reply, 401, 'unauthorized', 'not logged in');
    return { users: [...logins.users].sort() };
  });

  app.get('/*', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const file = path.startsWith('/vendor/') ? await readStatic(o.sdkDir, path.slice('/vendor'.length)) : await readStatic(PUBLIC, path);
    if (!file) return fail(reply, 404, 'not_found', 'no such file');
    return reply.type(file.type).header('cache-control', 'no-cache').send(file.body);
  });

  const address = await app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
  return { url: address.replace('://[::1]', '://localhost'), logins, close: () => app.close() };
}
