import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { BATCH_QUERY_FLAG, BATCH_SUBPROTOCOL, CloseCode, SUBPROTOCOL } from '@switchboard/protocol';
import type { Node } from '../node.ts';
import type { Transport, UpgradeContext } from './transport.ts';
import { KeyedRateLimiter } from '../rate-limit.ts';
import { originAllowed } from './origin.ts';

const TEXT = { binary: false, compress: false, fin: true } as const;

/** Adapts one `ws` socket to the core's Transport. */
class WsTransport implements Transport {
  readonly batch: boolean;
  private readonly ws: WebSocket;
  constructor(ws: WebSocket, batch: boolean) {
    this.ws = ws;
    this.batch = batch;
  }
  send(frame: Buffer): void {
    if (this.ws.readyState === 1) this.ws.send(frame, TEXT);
  }
  sendMany(frames: readonly Buffer[]): void {
    if (this.ws.readyState !== 1) return;
    const socket = (this.ws as unknown as { _socket?: Duplex })._socket;
    socket?.cork();
    for (const f of frames) this.ws.send(f, TEXT);
    socket?.uncork();
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(code, reason);
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}

function reject(socket: Duplex, status: number, text: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  socket.destroy();
}

function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function pickHeaders(req: IncomingMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(', ');
  }
  return out;
}

/**
 * Serves WebSocket upgrades at `/ws` on an HTTP server: origin allow-list, per-IP connection
 * rate, credentials from `?token=`/`Authorization`, batching by `?batch=1` or subprotocol.
 * Query strings and tokens are never logged.
 */
export function attachWebSocket(server: HttpServer, node: Node): WebSocketServer {
  const { config } = node;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.limits.maxFrameBytes,
    perMessageDeflate: false,
    skipUTF8Validation: true, // checked by the connection so invalid UTF-8 closes 3501
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(BATCH_SUBPROTOCOL) ? BATCH_SUBPROTOCOL : protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const perIp = new KeyedRateLimiter(config.limits.connectionsPerIpPerSecond, config.limits.connectionsPerIpPerSecond * 2);
  const h = config.hooks;
  const forward = [...new Set([h.connect, h.subscribe, h.publish, h.refresh].flatMap((x) => x.forwardHeaders))];

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      return reject(socket, 400, 'Bad Request');
    }
    if (url.pathname !== '/ws') return reject(socket, 404, 'Not Found');
    if (!node.accepting) return reject(socket, 503, 'Service Unavailable');
    const ip = clientIp(req);
    const origin = req.headers.origin;
    if (!originAllowed(origin, config.allowedOrigins)) {
      node.log.warn({ ip, origin }, 'websocket origin refused');
      return reject(socket, 403, 'Forbidden: origin not allowed');
    }
    if (!perIp.take(ip)) {
      node.log.warn({ ip }, 'connection rate limit exceeded');
      return reject(socket, 429, 'Too Many Requests');
    }
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : undefined;
    const queryToken = config.auth.allowQueryToken ? url.searchParams.get('token') ?? undefined : undefined;
    const ctx: UpgradeContext = {
      ip,
      headers: pickHeaders(req, forward),
      ...(bearer || queryToken ? { token: bearer || queryToken } : {}),
      ...(url.searchParams.get('session') ? { session: url.searchParams.get('session')! } : {}),
      ...(origin ? { origin } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    };
    const flag = url.searchParams.get(BATCH_QUERY_FLAG);
    wss.handleUpgrade(req, socket, head, (ws) => {
      // `ws` closes an over-long frame with 1009; the protocol says 3501 bad_request.
      const close = ws.close.bind(ws);
      ws.close = (code?: number, reason?: string | Buffer) => (code === 1009 ? close(CloseCode.bad_request, 'frame too large') : close(code, reason));
      const batch = ws.protocol === BATCH_SUBPROTOCOL || flag === '1' || flag === 'true';
      const conn = node.openConnection(new WsTransport(ws, batch), ctx);
      ws.on('message', (data, isBinary) => conn.receive(data as Buffer, isBinary));
      ws.on('close', (code) => conn.closed(code));
      ws.on('error', (err) => node.log.debug({ client: conn.id, err: err.message }, 'socket error'));
    });
  });
  return wss;
}
