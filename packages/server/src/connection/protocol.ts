import type { Disconnect, FrameId, Publication, ReplyError } from '@switchboard/protocol';

/**
 * What the gateway tells a client that is not the answer to one of its commands, in no
 * protocol's terms. A wire protocol's encoder turns each into its own frame (protocol v1:
 * the frame of the same name; another protocol may map or drop it).
 */
export type ServerEvent =
  /**
   * Presence (`joinLeave` namespaces): a connection joined or left a channel this one is
   * subscribed to. `first`: the user's first connection in the channel; `last`: its last one
   * left (absent where the presence store was not asked).
   */
  | { type: 'join'; channel: string; user: string; client: string; info?: unknown; first?: boolean }
  | { type: 'leave'; channel: string; user: string; client: string; last?: boolean }
  | { type: 'update'; channel: string; user: string; client: string; info: unknown }
  /** User presence: a watched user's first connection authenticated, or its last one is gone. */
  | { type: 'online' | 'offline'; user: string }
  /** The backend subscribed this connection (`POST /api/subscribe`); `epoch`/`offset`: where live delivery begins. */
  | { type: 'subscribed'; channel: string; epoch?: string; offset?: number; persist: boolean }
  /** The backend removed one of this connection's subscriptions. */
  | { type: 'unsubscribed'; channel: string }
  /** A heartbeat the client must answer (any frame does). */
  | { type: 'ping' }
  /** The connection's credential expires at `expiresAt` (Unix s): refresh it. */
  | { type: 'token_expiring'; expiresAt: number }
  /** The server API's push to every connection (`sendToAll`): not a channel's publication. */
  | { type: 'broadcast'; data: unknown; ts: number }
  /** A command failed (`id`: the command's, when the protocol has ids). */
  | { type: 'error'; id?: FrameId; error: ReplyError }
  /** The connection ends with `disconnect.code` (sent before the close). */
  | { type: 'disconnect'; disconnect: Disconnect }
  /** Authentication was refused; the connection closes with `code`. */
  | { type: 'auth_failed'; code: number; reason: string };

/**
 * How one wire protocol writes what the gateway sends. One instance per protocol on a node,
 * shared by every connection that speaks it: fan-out asks it once per publication (or event)
 * and hands the same bytes to every such subscriber.
 */
export interface ProtocolEncoder {
  /**
   * A publication as this protocol's frame for the subscribers of its channel. `delta` (only
   * for delta subscriptions, which only protocols that grant them have): the Fossil delta
   * string against the channel's previous publication, in place of `data`.
   */
  publication(pub: Publication, delta?: string): Buffer;
  /** An event as this protocol's frame; undefined when the protocol has none (nothing is sent). */
  event(e: ServerEvent): Buffer | undefined;
  /**
   * The close code and reason a connection of this protocol ends with for `d` (a protocol
   * with codes of its own maps the gateway's); absent: `d`'s own.
   */
  close?(d: Disconnect): { code: number; reason: string };
}

/**
 * A wire protocol: how a client's frames are read and mapped onto the gateway, and how
 * what the gateway sends is written (`encoder`). Protocol v1 JSON (`protocols/v1/`) is one;
 * a protocol plugs in by implementing this beside it and being given to the transports that
 * serve it (`server.ts`). The connection core (`connection/`), the hub and the stores never
 * learn which protocol a connection speaks: the core checks frame size, UTF-8 and the
 * command rate, runs one frame at a time, and turns what a handler throws into
 * `error`/`disconnect` events through the encoder (`Connection.fail`).
 *
 * `Conn` is the connection type (`Connection`), a parameter so that this seam does not
 * import the connection that holds it.
 */
export interface WireProtocol<Conn = unknown> {
  /** Short name (`v1`), for logs and the admin UI. */
  readonly name: string;
  readonly encoder: ProtocolEncoder;
  /**
   * A connection of this protocol opened. `credentials`: what the upgrade request carried
   * (never logged). Protocol v1 authenticates with them at once when a token was given.
   */
  opened(conn: Conn, credentials: { token?: string; session?: string }): void;
  /**
   * One inbound text frame (size, UTF-8 and rate already checked), in order: decode it, map
   * it onto the gateway, answer. Errors go through `conn.fail(id, err)`: `ReplyError` answers
   * the command, `Disconnect` ends the connection.
   */
  handle(conn: Conn, frame: Buffer): Promise<void>;
  /** The command id a frame carries, for an error that refuses it before `handle` (the rate limit). */
  idOf(frame: Buffer): FrameId | undefined;
}

/**
 * Frames of one publication or event, encoded at most once per protocol: fan-out asks for
 * each subscriber's protocol, and every subscriber of a protocol gets the same bytes.
 */
export class EncodedOnce {
  private readonly encode: (e: ProtocolEncoder) => Buffer | undefined;
  private first: ProtocolEncoder | undefined;
  private firstFrame: Buffer | undefined;
  private others: Map<ProtocolEncoder, Buffer | undefined> | undefined;

  constructor(encode: (e: ProtocolEncoder) => Buffer | undefined) {
    this.encode = encode;
  }

  /** The frame for connections of encoder `e`'s protocol (undefined: that protocol sends nothing). */
  for(e: ProtocolEncoder): Buffer | undefined {
    if (e === this.first) return this.firstFrame;
    if (this.first === undefined) {
      this.first = e;
      return (this.firstFrame = this.encode(e));
    }
    this.others ??= new Map();
    if (this.others.has(e)) return this.others.get(e);
    const f = this.encode(e);
    this.others.set(e, f);
    return f;
  }
}
