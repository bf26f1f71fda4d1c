import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A plain-HTTP proxy like the corporate ones that make the fallback transports necessary. */
export interface HttpProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `ws://127.0.0.1:<port>/ws`: what an application passes to the SDK (the upgrade is refused). */
  wsUrl: string;
  /** Requests forwarded to each target, by target index. */
  readonly hits: number[];
  /** WebSocket upgrades refused. */
  readonly refusedUpgrades: number;
  /** Destroys every client connection open through the proxy (a dropped stream). */
  cut(): void;
  close(): Promise<void>;
}

export interface HttpProxyOptions {
  /** Base URLs (`http://127.0.0.1:<port>`) of the gateways, served round-robin per request. */
  targets: string[];
  /**
   * Hold each response until it ends, then send it whole with a Content-Length (a buffering
   * proxy or antivirus): streams never deliver anything, long-polls work.
   */
  buffer?: boolean;
}

const HOP = new Set(['connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'proxy-connection', 'te', 'trailer']);

/**
 * Starts a proxy on a free loopback port: refuses every WebSocket upgrade (`403`), and sends
 * each plain HTTP request to the next target in turn (no stickiness of any kind).
 */
export async function startHttpProxy(o: HttpProxyOptions): Promise<HttpProxy> {
  const hits = o.targets.map(() => 0);
  let refusedUpgrades = 0;
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const i = next++ % o.targets.length;
    hits[i]!++;
    const target = new URL(req.url ?? '/', o.targets[i]);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const up = request(target, { method: req.method, headers }, (ur) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      if (!o.buffer) {
        res.writeHead(ur.statusCode ?? 502, out);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(ur.statusCode ?? 502, { ...out, 'content-length': String(body.length) });
        res.end(body);
      });
      ur.on('error', () => res.destroy());
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('bad gateway');
      else res.destroy();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    refusedUpgrades++;
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    hits,
    get refusedUpgrades() { return refusedUpgrades; },
    cut() {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
