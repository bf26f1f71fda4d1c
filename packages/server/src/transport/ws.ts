import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
import { BATCH_QUERY_FLAG, BATCH_SUBPROTOCOL, CloseCode, SUBPROTOCOL } from '@switchboard/protocol';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { OpenConnection, Transport, TransportHost, TransportSession } from './transport.ts';
import { KeyedRateLimiter } from '../rate-limit.ts';
import { originAllowed } from './origin.ts';
import type { Metrics } from '../metrics.ts';
import { DEFLATED_FRAME_SLOT, sharedDeflateAllowed } from './deflate.ts';
import { fanoutSlot, type FanoutEncoder } from './fanout.ts';
import { streamDrained } from './drain.ts';
import { limited } from '../log-limit.ts';
import { clientIp, forwardedHeaderNames, upgradeContext } from './context.ts';

/**
 * `ws`'s frame builder. `Sender.frame` is public (`@public` in `ws/lib/sender.js`, exported
 * as `Sender` by `ws`'s ESM entry); `@types/ws` does not declare it, hence the cast.
 */
type FrameFn = (data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }) => Buffer[];
const frameWith: FrameFn = (wsModule as unknown as { Sender: { frame: FrameFn } }).Sender.frame;
const TEXT_FRAME = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false };

/** One complete unmasked text frame (header and payload in one buffer) for a payload. */
export function textFrame(payload: Buffer): Buffer {
  const [head, body] = frameWith(payload, TEXT_FRAME);
  return body ? Buffer.concat([head!, body], head!.length + body.length) : head!;
}

/** A fan-out's payload framed once for every socket that sends it in the pass (`FanoutEncoder`). */
export const TEXT_FRAME_SLOT = fanoutSlot('websocket text frame', textFrame);

/**
 * Adapts one `ws` socket to the core's Transport. Data frames are written already framed
 * (`textFrame`, built once per payload by the write path's `FanoutEncoder` and shared by
 * every socket of a fan-out) to the TCP socket that Node's
 * `'upgrade'` event handed over — the same socket `ws` reads from and writes its control
 * frames to. `bufferedAmount` stays exact: `ws` counts that socket's write buffer.
 *
 * **Ordering invariant** (pinned by `test/ws-transport.test.ts`): bytes reach the socket in
 * program order because `ws`'s own `Sender` never holds anything back. It queues only
 * while it compresses a message or reads a Blob, i.e. only for `ws.send`; this adapter never
 * calls `ws.send` or `ws.ping` (`GatewaySocket` refuses them), so `ws` writes just the close
 * frame (`ws.close`) and automatic pongs, each synchronously, between our own writes.
 * Anything that must reach the client goes through `send`/`sendMany`/`close` here.
 */
/** How long a closed connection's peer has to answer the close frame before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

class WsTransport implements Transport {
  readonly batch: boolean;
  private readonly ws: WebSocket;
  private readonly socket: Duplex;
  private readonly metrics: Metrics;
  /** Frames of at least this many bytes go compressed (permessage-deflate); Infinity: none. */
  private readonly deflateFrom: number;
  constructor(ws: WebSocket, socket: Duplex, batch: boolean, metrics: Metrics, deflateFrom: number) {
    this.ws = ws;
    this.socket = socket;
    this.batch = batch;
    this.metrics = metrics;
    this.deflateFrom = deflateFrom;
  }
  send(frame: Buffer, fanout: FanoutEncoder): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.metrics.bytesOut += frame.length;
    // Compressed once per payload for every connection (deflate.ts), like the text frame.
    this.socket.write((frame.length >= this.deflateFrom && fanout.memo(DEFLATED_FRAME_SLOT, frame)) || fanout.memo(TEXT_FRAME_SLOT, frame));
  }
  sendMany(frames: readonly Buffer[], fanout: FanoutEncoder): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.socket.cork();
    for (const f of frames) this.send(f, fanout);
    this.socket.uncork();
  }
  drained(): Promise<void> {
    return streamDrained(this.socket);
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState !== WebSocket.CONNECTING && this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.close(code, reason);
    // A peer that never answers the close frame (gone, half-open, or its process stopped)
    // would keep the socket for `ws`'s 30 s, and hold a graceful shutdown past its timeout.
    const cut = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    cut.unref();
    this.ws.once('close', () => clearTimeout(cut));
  }
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}

/**
 * The gateway's `ws` socket: carries its connection so the event handlers below are shared
 * functions rather than closures per connection (idle connections cost less memory).
 */
class GatewaySocket extends WebSocket {
  conn: TransportSession | undefined;
  /** Shared by every socket of one endpoint. */
  endpoint: WebSocketHost | undefined;

  /** Data goes through `WsTransport` (see its ordering invariant), never through `ws`'s sender. */
  override send(): never {
    throw new Error('GatewaySocket: write through WsTransport.send');
  }
  /** Heartbeats are protocol frames (`ping`/`pong`), sent through `WsTransport.send`. */
  override ping(): never {
    throw new Error('GatewaySocket: heartbeats are protocol frames');
  }

  /** `ws` closes an over-long frame with 1009; the protocol says 3501 bad_request. */
  override close(code?: number, reason?: string | Buffer): void {
    if (code === 1009) super.close(CloseCode.bad_request, 'frame too large');
    else super.close(code, reason);
  }
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const socket = this as GatewaySocket;
  const conn = socket.conn!;
  const metrics = socket.endpoint!.metrics;
  metrics.messagesIn++;
  metrics.bytesIn += data.length;
  conn.receive(data, isBinary);
}
function onClose(this: WebSocket, code: number): void {
  (this as GatewaySocket).conn!.closed(code);
}
function onError(this: WebSocket, err: Error): void {
  const conn = (this as GatewaySocket).conn!;
  (this as GatewaySocket).endpoint!.log.debug({ client: conn.id, err: err.message }, 'socket error');
}
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function reject(socket: Duplex, status: number, text: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  socket.destroy();
}

/** What the WebSocket endpoint needs of the gateway. */
export interface WebSocketHost extends TransportHost {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
}

/**
 * The endpoint serving `path`: its exact entry, else the entry of its folder with a last
 * segment of `*` (`/app/*` serves `/app/<key>`; the protocol reads the segment from
 * `UpgradeContext.path`).
 */
function endpointOf(endpoints: ReadonlyMap<string, OpenConnection>, path: string): OpenConnection | undefined {
  const exact = endpoints.get(path);
  if (exact) return exact;
  const slash = path.lastIndexOf('/');
  return slash > 0 && slash < path.length - 1 ? endpoints.get(`${path.slice(0, slash)}/*`) : undefined;
}

/**
 * Serves WebSocket upgrades on an HTTP server at each path of `endpoints` (path, or a folder
 * ending in `/*`, → how a client there is opened, i.e. which wire protocol it speaks): origin allow-list, per-IP
 * connection rate, credentials from `?token=`/`Authorization`, batching by `?batch=1` or
 * subprotocol. Other paths get `404`. Query strings and tokens are never logged; refusals
 * are logged rate-limited, values clipped.
 */
export function attachWebSocket(server: HttpServer, node: WebSocketHost, endpoints: ReadonlyMap<string, OpenConnection>): WebSocketServer {
  const { config } = node;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.limits.maxFrameBytes,
    // No context takeover either way: one compressed frame is then valid on every
    // connection (see deflate.ts), and no connection keeps a compressor between messages.
    perMessageDeflate: config.compression.permessageDeflate ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : false,
    skipUTF8Validation: true, // checked by the connection so invalid UTF-8 closes 3501
    clientTracking: false,
    WebSocket: GatewaySocket,
    handleProtocols: (protocols) => (protocols.has(BATCH_SUBPROTOCOL) ? BATCH_SUBPROTOCOL : protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const perIp = new KeyedRateLimiter(config.limits.connectionsPerIpPerSecond, config.limits.connectionsPerIpPerSecond * 2);
  const forward = forwardedHeaderNames(config);
  // Which upgrades negotiated compression that shared frames may use: read from the response
  // headers ws is about to send (its public 'headers' event), before the connection opens.
  const deflating = new WeakSet<IncomingMessage>();
  if (config.compression.permessageDeflate) {
    wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const ext = headers.find((line) => line.toLowerCase().startsWith('sec-websocket-extensions:'));
      if (sharedDeflateAllowed(ext?.slice(ext.indexOf(':') + 1).trim())) deflating.add(req);
    });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      return reject(socket, 400, 'Bad Request');
    }
    const open = endpointOf(endpoints, url.pathname);
    if (!open) return reject(socket, 404, 'Not Found');
    if (!node.accepting) return reject(socket, 503, 'Service Unavailable');
    const ip = clientIp(req);
    const origin = req.headers.origin;
    if (!originAllowed(origin, config.allowedOrigins)) {
      limited(node.log).warn({ ip, origin }, 'websocket origin refused');
      return reject(socket, 403, 'Forbidden: origin not allowed');
    }
    if (!perIp.take(ip)) {
      limited(node.log).warn({ ip }, 'connection rate limit exceeded');
      return reject(socket, 429, 'Too Many Requests');
    }
    const ctx = upgradeContext(req, url, config, forward);
    const flag = url.searchParams.get(BATCH_QUERY_FLAG);
    wss.handleUpgrade(req, socket, head, (upgraded) => {
      const ws = upgraded as GatewaySocket;
      const batch = ws.protocol === BATCH_SUBPROTOCOL || flag === '1' || flag === 'true';
      const deflateFrom = deflating.has(req) ? config.compression.threshold : Infinity;
      ws.endpoint = node;
      ws.conn = open(new WsTransport(ws, socket, batch, node.metrics, deflateFrom), ctx);
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.on('error', onError);
    });
  });
  return wss;
}
