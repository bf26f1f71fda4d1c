import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type PusherServer from 'pusher';

const require = createRequire(import.meta.url);

/** A webhook as the backend received it, and whether the `pusher` SDK says it is valid. */
interface ReceivedWebhook {
  valid: boolean;
  events: Array<Record<string, unknown>>;
  key: string | undefined;
}

/** The application backend of the Pusher tests: what a Laravel or Express app does for Pusher. */
export interface PusherBackend {
  url: string;
  /** Webhooks received, in order (`pusher.webhook(req).isValid()` checked on each). */
  webhooks: ReceivedWebhook[];
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** The browser builds of pusher-js and Laravel Echo, from the installed packages. */
function libraryFile(name: 'pusher' | 'echo'): string {
  if (name === 'pusher') return readFileSync(require.resolve('pusher-js/dist/web/pusher.min.js'), 'utf8');
  return readFileSync(require.resolve('laravel-echo/iife'), 'utf8');
}

/**
 * A real HTTP backend using the `pusher` server SDK: `POST /broadcasting/auth?user=<id>`
 * authorizes channels for `<id>` (the presence member `{user_id: id, user_info: {name: id}}`),
 * as Laravel's route does, `POST /user-auth?user=<id>` signs a user in, `POST /webhooks`
 * records webhooks and verifies them with `pusher.webhook(…).isValid()`, and `/page`,
 * `/pusher.js`, `/echo.js` serve a blank page with the two libraries' browser builds.
 */
export async function startPusherBackend(pusher: PusherServer): Promise<PusherBackend> {
  const webhooks: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const user = url.searchParams.get('user') ?? 'anonymous';
    const send = (status: number, type: string, text: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(text);
    };
    if (req.method === 'GET' && url.pathname === '/page') return send(200, 'text/html', '<!doctype html><title>pusher</title><script src="/pusher.js"></script><script src="/echo.js"></script>');
    if (req.method === 'GET' && url.pathname === '/pusher.js') return send(200, 'text/javascript', libraryFile('pusher'));
    if (req.method === 'GET' && url.pathname === '/echo.js') return send(200, 'text/javascript', libraryFile('echo'));
    void body(req).then((text) => {
      if (url.pathname === '/webhooks') {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const hook = pusher.webhook({ headers, rawBody: text });
        const valid = hook.isValid();
        webhooks.push({ valid, events: valid ? (hook.getEvents() as unknown as Array<Record<string, unknown>>) : [], key: req.headers['x-pusher-key'] as string | undefined });
        return send(200, 'text/plain', 'ok');
      }
      const form = new URLSearchParams(text);
      const socketId = form.get('socket_id') ?? '';
      if (url.pathname === '/broadcasting/auth') {
        const channel = form.get('channel_name') ?? '';
        const presence = channel.startsWith('presence-') ? { user_id: user, user_info: { name: user } } : undefined;
        return send(200, 'application/json', JSON.stringify(pusher.authorizeChannel(socketId, channel, presence)));
      }
      if (url.pathname === '/user-auth') return send(200, 'application/json', JSON.stringify(pusher.authenticateUser(socketId, { id: user })));
      send(404, 'text/plain', 'not found');
    }, () => send(400, 'text/plain', 'bad request'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    webhooks,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
