import PusherServer from 'pusher';
import * as PusherJs from 'pusher-js';

/** pusher-js's class (a CommonJS module whose typings say `export default`: either shape at run time). */
type PusherJsClass = typeof import('pusher-js').default;
export const pusherJsClass: PusherJsClass = ((PusherJs as unknown as { default?: { default?: PusherJsClass } & PusherJsClass }).default?.default
  ?? (PusherJs as unknown as { default: PusherJsClass }).default);
/** A pusher-js client. */
export type PusherClient = InstanceType<PusherJsClass>;

/** The Pusher app the tests configure (`pusher.apps`). */
export const PUSHER_APP = { id: 'app-1', key: 'app-key-1', secret: 'app-secret-0123456789', namespace: 'px' } as const;

/** The real `pusher` server SDK pointed at a gateway: only host, port, useTLS and the app's credentials. */
export function pusherServer(port: number, app: { id: string; key: string; secret: string } = PUSHER_APP, o: { encryptionMasterKeyBase64?: string } = {}): PusherServer {
  return new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false, ...o });
}

/**
 * A real `pusher-js` client pointed at a gateway: wsHost, wsPort, forceTLS false and the app
 * key (pusher-js 8 also insists on some `cluster`, which wsHost overrides). Private and
 * presence channels are authorized in-process by the `pusher` server SDK (`presence`: the
 * member it signs), user sign-in likewise (`user`).
 */
export function pusherClient(port: number, o: { server?: PusherServer; presence?: { user_id: string; user_info?: unknown }; user?: { id: string; user_info?: unknown; watchlist?: string[] }; key?: string } = {}): PusherClient {
  const server = o.server;
  return new pusherJsClass(o.key ?? PUSHER_APP.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'],
    channelAuthorization: {
      endpoint: '/unused', transport: 'ajax',
      customHandler: ({ socketId, channelName }, callback) => {
        if (!server) return callback(new Error('no server SDK to authorize with'), null);
        callback(null, server.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? o.presence as never : undefined));
      },
    },
    userAuthentication: {
      endpoint: '/unused', transport: 'ajax',
      customHandler: ({ socketId }, callback) => {
        if (!server || !o.user) return callback(new Error('no user to sign in'), null);
        callback(null, server.authenticateUser(socketId, o.user as never));
      },
    },
  });
}

/** Resolves with the socket id once the client is connected. */
export function connected(client: PusherClient): Promise<string> {
  return new Promise((resolve, reject) => {
    if (client.connection.state === 'connected') return resolve(client.connection.socket_id);
    client.connection.bind('connected', () => resolve(client.connection.socket_id));
    client.connection.bind('failed', () => reject(new Error('pusher-js: connection failed')));
  });
}

/**
 * Subscribes and resolves once `pusher:subscription_succeeded` arrived (with its data), rejects
 * on `pusher:subscription_error`. `events`: every event of the channel from the start (those
 * that arrive with the subscription, as a cache channel's, included).
 */
export function subscribed(client: PusherClient, channel: string): Promise<{ channel: ReturnType<PusherClient['subscribe']>; data: any; events: Array<{ event: string; data: any }> }> {
  const ch = client.subscribe(channel);
  const events = collect(ch);
  return new Promise((resolve, reject) => {
    ch.bind('pusher:subscription_succeeded', (data: unknown) => resolve({ channel: ch, data, events }));
    ch.bind('pusher:subscription_error', (e: unknown) => reject(Object.assign(new Error(`subscription_error on ${channel}`), { detail: e })));
  });
}

/** Collects the events a channel's binding gets (name → data list). */
function collect(ch: { bind_global(cb: (event: string, data: unknown) => void): unknown }): Array<{ event: string; data: any }> {
  const got: Array<{ event: string; data: any }> = [];
  ch.bind_global((event, data) => {
    if (!event.startsWith('pusher:') && !event.startsWith('pusher_internal:')) got.push({ event, data });
  });
  return got;
}
