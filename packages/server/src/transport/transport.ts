import type { FanoutEncoder } from './fanout.ts';

/**
 * One client socket as the core sees it. The core only sends frames and closes; the
 * transport adapts a WebSocket library (see `ws.ts`), an HTTP response (`http/`) or a test
 * double. Every implementation passes the transport contract suite
 * (`packages/server/test/transport.contract.ts`).
 */
export interface Transport {
  /**
   * Sends one text frame. `fanout`: the write path's encoder, where per-payload work (framing,
   * compression) is done once for every connection sending the same payload in this pass.
   */
  send(frame: Buffer, fanout: FanoutEncoder): void;
  /** Sends several text frames in one write where the transport can (cork/uncork). */
  sendMany(frames: readonly Buffer[], fanout: FanoutEncoder): void;
  /** Closes with a WebSocket close code and reason. Idempotent. */
  close(code: number, reason: string): void;
  /** Bytes accepted by `send` and not yet written to the network. */
  readonly bufferedAmount: number;
  /**
   * The drain signal: resolves once what is buffered now may have left (written to the
   * network, or taken by the client), and at once when nothing waits or the transport
   * ended. Never rejects. Whoever waits for room (`Connection.whenWritable`) checks
   * `bufferedAmount` again after it: nothing polls.
   */
  drained(): Promise<void>;
  /** The client asked for JSON-array batch frames (`?batch=1` or subprotocol). */
  readonly batch: boolean;
  /** What carries the connection, as the admin UI shows it (`websocket` when absent). */
  readonly kind?: string;
  /** Stops reading from the client (backpressure while its commands queue up); optional. */
  pause?(): void;
  /** Reads again after `pause`. */
  resume?(): void;
}

/** What the gateway learned from the upgrade request, before any frame. */
export interface UpgradeContext {
  ip: string;
  /** The request path (`/ws`, `/app/<key>`): a protocol may read parameters from it. */
  path?: string;
  /**
   * The query parameters, without the credentials (`token`, `session`); no prototype. A
   * protocol may read its parameters (Pusher's `protocol` version) from it. Never logged.
   */
  query?: Record<string, string>;
  /** `?token=` or `Authorization: Bearer`; never logged. */
  token?: string;
  /** `?session=`; never logged. */
  session?: string;
  /** Upgrade-request headers that hooks may receive (allow-listed, lower-case names). */
  headers: Record<string, string>;
  origin?: string;
  userAgent?: string;
}

/**
 * The protocol session a transport feeds: one per client connection, returned by
 * `OpenConnection`. It never learns which transport carries it.
 */
export interface TransportSession {
  readonly id: string;
  /** One inbound frame (text unless `isBinary`). */
  receive(data: Buffer, isBinary: boolean): void;
  /** The client side is gone (close code as seen by the transport). Idempotent. */
  closed(code: number): void;
}

/**
 * Opens the protocol session of a new client on one endpoint. The composition root
 * (`server.ts`) binds each endpoint to a wire protocol, so transports never learn which
 * protocol they carry.
 */
export type OpenConnection = (transport: Transport, upgrade: UpgradeContext) => TransportSession;

/** The gateway as a transport adapter sees it (`Node` implements it). */
export interface TransportHost {
  /** False once shutdown began: refuse new connections (503). */
  readonly accepting: boolean;
}
