/**
 * The Vue example's backend: a Fastify server with the one route an application adds for
 * Switchboard, `POST /api/token` (a short-lived gateway token for the signed-in user), and the
 * page (index.html and app.js, bundled with esbuild at start).
 */
import Fastify from 'fastify';
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';

/** Options of `startVueExample`. */
export interface VueExampleOptions {
  /** The gateway's HS256 secret (its `auth.jwtSecret`): tokens are signed with it. */
  secret: string;
  /** The gateway's WebSocket URL as the browser reaches it (`ws://127.0.0.1:8080/ws`). */
  gatewayUrl: string;
  /** Port (default 0: any free one) and address (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** Token lifetime in seconds (default 300; the SDK fetches a new one before it expires). */
  tokenTtlSec?: number;
}

/** A user name: what this demo trusts as a login. */
const USER = /^[A-Za-z0-9_-]{1,32}$/;

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The browser bundle: Vue (with its template compiler) and the SDK. */
async function bundle(): Promise<string> {
  const r = await build({
    entryPoints: [here('./app.ts')],
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, write: false, logLevel: 'warning',
    // Templates in strings need Vue's compiler build; the workspace SDK from its sources.
    alias: { vue: 'vue/dist/vue.esm-bundler.js' },
    conditions: ['switchboard-source'],
    define: { __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false', 'process.env.NODE_ENV': '"production"' },
  });
  return r.outputFiles[0]!.text;
}

/** Starts the example's server; resolves with its URL and a `close()`. */
export async function startVueExample(o: VueExampleOptions): Promise<{ url: string; close(): Promise<void> }> {
  const key = new TextEncoder().encode(o.secret);
  const [app, page] = [await bundle(), readFileSync(here('../public/index.html'), 'utf8')];
  const http = Fastify({ bodyLimit: 1024 });

  // The token route. A real application signs in its users first (a session cookie) and
  // mints the token for that user; this demo trusts the name the page sends.
  http.post('/api/token', async (req, reply) => {
    const user = (req.body as { user?: unknown } | null)?.user;
    if (typeof user !== 'string' || !USER.test(user)) return reply.code(400).send({ error: 'user: 1-32 of A-Z a-z 0-9 _ -' });
    const token = await new SignJWT({ channels: ['dm:*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(`${o.tokenTtlSec ?? 300}s`)
      .sign(key);
    return { token };
  });
  http.get('/config.json', async () => ({ gateway: o.gatewayUrl }));
  http.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  http.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(app));

  await http.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
  const { port } = http.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => http.close() };
}
