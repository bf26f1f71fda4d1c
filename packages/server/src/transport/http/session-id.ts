import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The parts of an HTTP-transport connection id `<node>.<handle>.<mac>`. */
export interface ParsedSessionId {
  /** The node that holds the session (routing, not secret). */
  node: string;
  /** The session's handle on that node (lookup key, not secret). */
  handle: string;
  /** HMAC of `<node>.<handle>` under the owning node's key: the secret part. */
  mac: string;
}

const PART = /^[A-Za-z0-9_-]{8,32}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

/**
 * Mints and checks the connection ids of the HTTP transports. An id names the node that
 * holds the session (so a request landing on another node is routed to it) and carries an
 * HMAC-SHA256 under a key that never leaves that node: 256 unguessable bits, checked in
 * constant time. Ids are credentials: never logged.
 */
export class SessionIds {
  /** This node's routing id (random per process). */
  readonly node: string;
  private readonly key: Buffer;
  private next = 0;

  constructor(node = randomBytes(9).toString('base64url'), key = randomBytes(32)) {
    this.node = node;
    this.key = key;
  }

  /** A new id and its handle (the handle is unique per node; the id is unguessable). */
  mint(): { id: string; handle: string } {
    const handle = `${(++this.next).toString(36)}${randomBytes(6).toString('base64url')}`;
    return { id: `${this.node}.${handle}.${this.mac(this.node, handle)}`, handle };
  }

  /** Splits an id; undefined when it is not shaped like one (a clear 400 for the caller). */
  static parse(id: unknown): ParsedSessionId | undefined {
    if (typeof id !== 'string' || id.length > 120) return undefined;
    const [node, handle, mac, extra] = id.split('.');
    if (extra !== undefined || !node || !handle || !mac || !PART.test(node) || !PART.test(handle) || !MAC.test(mac)) return undefined;
    return { node, handle, mac };
  }

  /** Whether an id of this node carries this node's signature (constant-time compare). */
  verify(p: ParsedSessionId): boolean {
    if (p.node !== this.node) return false;
    const want = Buffer.from(this.mac(p.node, p.handle));
    const got = Buffer.from(p.mac);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private mac(node: string, handle: string): string {
    return createHmac('sha256', this.key).update(`${node}.${handle}`).digest('base64url');
  }
}
