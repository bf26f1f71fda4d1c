import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseConfig, type Config, type ConfigInput } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { Node } from './node.ts';
import { createStores, type Stores } from './stores.ts';
import { attachWebSocket } from './transport/ws.ts';
import { HttpTransports } from './transport/http/index.ts';
import type { OpenConnection } from './transport/transport.ts';
import { V1Protocol } from './protocols/v1/protocol.ts';
import { pusherEndpoint, pusherWebhookSinks } from './protocols/pusher/index.ts';
import { Metrics } from './metrics.ts';
import { readiness } from './health.ts';
import { registerBrowserBundle } from './browser-bundle.ts';
import { apiPlugin } from './api/index.ts';
import { ApiError, makeErrorHandler } from './api/errors.ts';
import { createAdmin } from './admin/admin.ts';
import { startOutbox } from './outbox/outbox.ts';
import { adminPlugin } from './admin/admin-plugin.ts';
import { unavailableReporter } from './unavailable.ts';
import { createTracing } from './tracing/create-tracing.ts';

export interface ServerOptions {
  /** Configuration (validated here); `config` wins when both are given. */
  options?: ConfigInput;
  config?: Config;
  logger?: Logger;
  /** Builds the broker (tests, cluster mode); the memory broker when absent. */
  broker?: Stores['broker'];
  /** Where the client's built browser bundles are (`switchboard.js`, `.mjs`); the installed `@switchboard/client`'s `dist/` when absent. */
  browserBundleDir?: string;
}

/** A running gateway. */
export interface SwitchboardServer {
  readonly config: Config;
  readonly node: Node;
  readonly http: FastifyInstance;
  readonly log: Logger;
  /** Prometheus metrics of this gateway (`GET /metrics`). */
  readonly metrics: Metrics;
  /** Starts listening; resolves with the bound address (port 0 binds a free port). */
  listen(): Promise<{ host: string; port: number; url: string; wsUrl: string }>;
  /** Graceful stop: `3001 shutdown` to clients, stores flushed, sockets closed. */
  close(): Promise<void>;
}

/**
 * Builds a gateway from configuration: stores, node, HTTP routes and the WebSocket endpoint.
 * Throws ConfigError (naming the key) on bad configuration.
 */
export async function createServer(o: ServerOptions | ConfigInput = {}): Promise<SwitchboardServer> {
  const opts: ServerOptions = 'config' in o || 'options' in o || 'logger' in o || 'broker' in o || 'browserBundleDir' in o ? (o as ServerOptions) : { options: o as ConfigInput };
  const config = opts.config ?? parseConfig(opts.options ?? {});
  const log = opts.logger ?? createLogger(config.logLevel);
  const stores = await createStores(config, log);
  const metrics = new Metrics();
  const tracing = await createTracing(config.tracing, log);
  const node = new Node({ config, log, metrics, tracing, stores: opts.broker ? { ...stores, broker: opts.broker } : stores, webhookSinks: pusherWebhookSinks(config) });
  // Not healthy before it can be kicked: a control message (SSO kick, server API disconnect, a
  // relayed request) sent once this node is up must reach it, so wait for the broker's control
  // subscriptions. The admin UI and the HTTP transports offer node services (cluster-wide
  // queries, the relay) on `node.requests`, registered before the server listens.
  let outbox: Awaited<ReturnType<typeof startOutbox>>;
  const admin = await Promise.resolve(node.broker.ready)
    // The transactional outbox consumer (`outbox.postgres`, docs/postgres.md).
    .then(async () => (outbox = await startOutbox(node, config, metrics, log)))
    .then(() => createAdmin({ config, node, metrics, log, ...(outbox ? { outboxLag: outbox.lag } : {}) }))
    .catch(async (err: unknown) => {
      await outbox?.consumer.stop();
      await node.close().catch(() => {});
      await stores.close();
      await tracing.shutdown().catch(() => {});
      throw err;
    });
  // Wire protocols, each bound to the endpoints that speak it (docs/architecture.md).
  const v1 = new V1Protocol(node.services);
  const openV1: OpenConnection = (transport, upgrade) => node.openConnection(transport, upgrade, v1);
  const transports = new HttpTransports(node, openV1);
  // A handshake or request whose headers never complete is cut off (checked every second at most).
  const handshake = config.limits.handshakeTimeoutMs;
  const timeouts = { headersTimeout: handshake, requestTimeout: Math.max(30_000, handshake), connectionsCheckingInterval: Math.min(1000, handshake) };
  const https = config.tls ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), ...timeouts } : null;
  const http: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: config.limits.maxHttpBodyBytes,
    ...(https ? { https } : { http: timeouts }),
    requestTimeout: timeouts.requestTimeout,
    connectionTimeout: 0,
  }) as unknown as FastifyInstance;

  // One error shape on every route (`{"error": {"code", "message"}}`, as the server API's):
  // unknown paths and fastify's own refusals (a body too large for the HTTP transports) too.
  http.setErrorHandler(makeErrorHandler(log));
  http.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new ApiError(404, 'not_found', `no such route: ${req.method} ${req.url.split('?')[0]}`).toBody());
  });

  http.get('/healthz', async (_req, reply) => {
    if (!node.accepting) return reply.code(503).send({ status: 'draining' });
    return { status: 'ok' };
  });
  // Ready: accepting connections and the stores answer (a load balancer sends traffic).
  http.get('/readyz', async (_req, reply) => {
    const r = await readiness(node);
    if (r.ready) return { status: 'ready' };
    if (r.reason === 'stores_unreachable') unavailableReporter(log).report(new Error(r.detail ?? 'stores unreachable'), 'readiness probe');
    return reply.code(503).send({ status: r.reason });
  });
  http.get('/metrics', async (_req, reply) => {
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).send(text);
  });

  // The client SDK's browser bundles: a page needs one <script src="…/switchboard.js">.
  registerBrowserBundle(http, opts.browserBundleDir);

  // Server API for backends (`/api/*`, API keys); see docs/server-api.md.
  http.register(apiPlugin, { prefix: '/api', node });
  // The admin web UI (docs/admin.md): only with admin.password; otherwise /admin/ is a 404.
  if (admin?.plugin) http.register(adminPlugin, { prefix: '/admin', ...admin.plugin });

  // Pusher Channels protocol 7 at /app/<key> and its HTTP API, when pusher.apps lists any.
  const pusher = pusherEndpoint(node, http);
  attachWebSocket(http.server, node, new Map([['/ws', openV1], ...(pusher ? [[pusher.path, pusher.open] as const] : [])]));
  // HTTP-streaming, SSE and long-polling (docs/transports.md).
  await transports.register(http);
  let closed = false;

  return {
    config, node, http, log, metrics,
    async listen() {
      await http.listen({ port: config.port, host: config.host });
      const addr = http.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const shown = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
      const scheme = https ? 'https' : 'http';
      return { host: addr.address, port: addr.port, url: `${scheme}://${shown}:${addr.port}`, wsUrl: `${https ? 'wss' : 'ws'}://${shown}:${addr.port}/ws` };
    },
    async close() {
      if (closed) return;
      closed = true;
      // New connections are refused at once; the outbox's batch in progress commits (or
      // rolls back) while the stores still answer.
      node.accepting = false;
      if (outbox) await outbox.consumer.stop();
      // The node refuses new connections at once; the admin sampler stops while it drains.
      const stopping = node.close();
      await admin?.close();
      await stopping;
      await stores.close();
      // Node stops cutting off silent connections once the server closes, and waits for
      // them: one that never sends its headers would hold the shutdown forever. Past the
      // handshake timeout (when it would have been cut off anyway) it is closed.
      const silent = setTimeout(() => http.server.closeAllConnections(), config.limits.handshakeTimeoutMs);
      try {
        await http.close();
      } finally {
        clearTimeout(silent);
        // The spans of the drain go out before the process exits (a dead collector: logged, not waited for).
        await tracing.shutdown().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'tracing: the last spans could not be exported'));
      }
    },
  };
}
