import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import {
  CloseCode, Disconnect, ReplyError,
  type FrameId, type Publication, type TagFilter,
} from '@switchboard/protocol';
import type { Transport, UpgradeContext } from '../transport/transport.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Flushable, Outbox } from './outbox.ts';
import { TokenBucket } from '../rate-limit.ts';
import { limited } from '../log-limit.ts';
import { classify, closeReason } from '../errors.ts';
import type { ProtocolEncoder, ServerEvent, WireProtocol } from './protocol.ts';
import type { Identity } from '../identity.ts';

/**
 * Where a subscription is in its life (`subscriptions/subscriptions.ts` drives it):
 * `pending` (in the hub, its broker subscription being set up), `recovering` (history read
 * and replayed; live publications held in `buffer`), `live` (publications flow), `closed`
 * (unsubscribed, failed, or the connection is gone; it never comes back).
 */
export type SubscriptionState = 'pending' | 'recovering' | 'live' | 'closed';

/** A connection's subscription to one channel: a record the hub keeps (the connection reads it). */
export class Subscription {
  /** The subscribed connection. */
  readonly conn: Connection;
  readonly channel: string;
  state: SubscriptionState = 'pending';
  /**
   * Non-null while a history channel's subscription is pending or recovering: live
   * publications are held here and released (without those already replayed) once the
   * replay is sent.
   */
  buffer: Publication[] | null;
  /** Bytes of the encoded frames held in `buffer` so far (a long paced replay bounds it). */
  bufferedBytes = 0;
  /**
   * History channels: the stream position this connection has been given (set when it goes
   * live, advanced by each message). A publication at or below it in the same epoch is not
   * sent again, whichever path (replay, buffer, a broker that lags) brings it.
   */
  position: { epoch: string | undefined; offset: number } | undefined = undefined;
  /**
   * Delta subscriptions (`subscribe` with `delta`): the number (`ChannelDelta`) of the last
   * publication the hub delivered to it, -1 before the first. Undefined: a plain subscription.
   */
  delta: number | undefined;
  /**
   * The automatic subscription to the user's personal channel, until an explicit `subscribe`
   * adopts it: where its live delivery began (`direct/personal-channel.ts`).
   */
  auto: { epoch?: string; offset?: number } | undefined = undefined;
  /**
   * A subscription with a filter (`subscribe` with `filter`): only publications whose tags it
   * matches reach it, live and replayed. Undefined: every publication (the hub's fan-out then
   * never looks at tags).
   */
  readonly filter: TagFilter | undefined;
  /** A subscription of a conflated namespace (`conflation`): the hub's `ChannelConflation` paces it. */
  readonly conflation: { key: string; intervalMs: number } | undefined;

  constructor(conn: Connection, channel: string, o: { history: boolean; delta: boolean; filter?: TagFilter; conflation?: { key: string; intervalMs: number } | null }) {
    this.conn = conn;
    this.channel = channel;
    this.buffer = o.history ? [] : null;
    this.delta = o.delta ? -1 : undefined;
    this.filter = o.filter;
    this.conflation = o.conflation ?? undefined;
  }
}

/**
 * True when `pub` may go to `sub`, advancing the subscription's position: always on channels
 * without history, and for history channels only past the position already given.
 */
export function admit(sub: Subscription, pub: Publication): boolean {
  const at = sub.position;
  if (!at || pub.offset === undefined) return true;
  if (pub.epoch === at.epoch && pub.offset <= at.offset) return false;
  at.epoch = pub.epoch;
  at.offset = pub.offset;
  return true;
}

export type { Identity } from '../identity.ts';

/**
 * What a connection needs of the gateway that owns it (`Node` builds one per gateway). The
 * connection knows neither the node nor any protocol's commands: its `WireProtocol` handles
 * each frame.
 */
export interface ConnectionHost {
  readonly limits: Config['limits'];
  readonly metrics: Pick<Metrics, 'error'>;
  readonly log: Logger;
  /** The node's write path: batches this connection's writes per turn (one per node). */
  readonly outbox: Outbox;
  /** The connection ended (either side closed it); called once. */
  closed(conn: Connection, code: number): void;
}

/**
 * Where a connection is in its life, with what each phase knows: no identity before
 * authentication, an identity from `authenticating` on (credentials accepted; single
 * sign-on and the access check still to pass), `ready` once it takes commands, and `closed`
 * (keeping the identity it had, if any). Transitions: `beginAuthentication`, `becomeReady`,
 * `closed`; nothing goes back.
 */
export type ConnectionPhase =
  | { readonly state: 'auth_pending' }
  | { readonly state: 'authenticating'; readonly identity: Identity }
  | { readonly state: 'ready'; readonly identity: Identity }
  | { readonly state: 'closed'; readonly identity: Identity | undefined };

export type ConnectionState = ConnectionPhase['state'];

/** A connection whose identity is known: authenticating, ready, or closed after that. */
export type AuthenticatedConnection = Connection & { readonly identity: Identity; readonly user: string };

/** Narrows a connection to one whose identity is known (it stays known, even once closed). */
export function isAuthenticated(conn: Connection): conn is AuthenticatedConnection {
  return conn.identity !== undefined;
}

const AUTH_PENDING: ConnectionPhase = { state: 'auth_pending' };

/**
 * Inbound frames held while an earlier command of the same connection is still running.
 * At this many the transport stops reading from the socket (TCP backpressure reaches the
 * client) until half are done; frames already read keep arriving meanwhile.
 */
const MAX_INBOX = 256;
/** Bytes held beyond which the connection is closed `3013` (a client that ignores backpressure). */
const MAX_INBOX_BYTES = 4 * 1024 * 1024;
/**
 * One socket's life: authentication, commands (processed one at a time, in order), its
 * subscriptions, heartbeat bookkeeping and the batched outbound queue.
 */
export class Connection implements Flushable {
  readonly id = `c_${randomBytes(9).toString('base64url')}`;
  private readonly host: ConnectionHost;
  readonly transport: Transport;
  /** The wire protocol this connection speaks (chosen by the endpoint it connected to). */
  readonly protocol: WireProtocol<Connection>;
  /** `protocol.encoder`: how what the gateway sends is written for this connection. */
  readonly encoder: ProtocolEncoder;
  readonly upgrade: UpgradeContext;
  readonly connectedAt = Date.now();
  private phase: ConnectionPhase = AUTH_PENDING;
  /** channel → this connection's subscriptions; the hub keeps them (`Hub.addSubscriber`, `removeSubscriber`). */
  readonly subscriptions: ReadonlyMap<string, Subscription> = new Map<string, Subscription>();

  /** Heartbeat: last inbound frame, next server ping, when the unanswered ping was sent. */
  lastSeenAt = Date.now();
  nextPingAt = 0;
  pingSentAt = 0;
  expiringNoticeSent = false;

  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** Frames (and tasks, see `runInOrder`) waiting for the command before them. */
  private readonly inbox: Array<Buffer | (() => Promise<void>)> = [];
  private inboxBytes = 0;
  private busy = false;
  private readingPaused = false;
  /** The command rate (`limits.commandsPerSecond`, bursts of twice that). */
  private readonly commands: TokenBucket;

  constructor(host: ConnectionHost, transport: Transport, upgrade: UpgradeContext, protocol: WireProtocol<Connection>) {
    this.host = host;
    this.transport = transport;
    this.protocol = protocol;
    this.encoder = protocol.encoder;
    this.upgrade = upgrade;
    const rate = host.limits.commandsPerSecond;
    this.commands = new TokenBucket(rate, rate * 2);
  }

  /** `auth_pending`, `authenticating`, `ready` or `closed` (see `ConnectionPhase`). */
  get state(): ConnectionState {
    return this.phase.state;
  }

  /** Who the connection is, from `authenticating` on. */
  get identity(): Identity | undefined {
    return this.phase.state === 'auth_pending' ? undefined : this.phase.identity;
  }

  get user(): string | undefined {
    return this.identity?.user;
  }

  /** `auth_pending` → `authenticating`: the credentials were accepted as `identity`. */
  beginAuthentication(identity: Identity): this is AuthenticatedConnection {
    if (this.phase.state !== 'auth_pending') return false;
    this.phase = { state: 'authenticating', identity };
    return true;
  }

  /** `authenticating` → `ready`: it takes commands now. False when it closed meanwhile. */
  becomeReady(): boolean {
    if (this.phase.state !== 'authenticating') return false;
    this.phase = { state: 'ready', identity: this.phase.identity };
    return true;
  }

  /**
   * `ready` as a guest → `ready` as `identity` (a protocol's sign-in, e.g. Pusher's
   * `pusher:signin`). False when the connection is not a ready guest.
   */
  becomeUser(identity: Identity): boolean {
    if (this.phase.state !== 'ready' || !this.phase.identity.guest || identity.guest) return false;
    this.phase = { state: 'ready', identity };
    return true;
  }

  // ---- outbound ----------------------------------------------------------------------

  /** Queues an encoded frame; it leaves with everything else queued this turn. */
  enqueue(frame: Buffer): void {
    if (this.state === 'closed') return;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.host.outbox.schedule(this);
    }
  }

  /** Queues an event, written in the connection's protocol (nothing when the protocol has no frame for it). */
  send(e: ServerEvent): void {
    const frame = this.encoder.event(e);
    if (frame !== undefined) this.enqueue(frame);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.state === 'closed' || this.queue.length === 0) return;
    if (this.transport.bufferedAmount + this.queuedBytes > this.host.limits.maxQueueBytes) {
      this.queue = [];
      this.queuedBytes = 0;
      this.terminate(new Disconnect(CloseCode.slow_consumer, 'slow_consumer'));
      return;
    }
    this.flushNow(true);
  }

  /** True while what waits to reach this client (here and in the transport) is at most `share` of `limits.maxQueueBytes`. */
  hasRoom(share: number): boolean {
    return this.transport.bufferedAmount + this.queuedBytes <= this.host.limits.maxQueueBytes * share;
  }

  /**
   * Resolves once at most `maxBytes` wait to reach this client (queued here and in the
   * transport), or once the connection closed. Whoever sends much in a row (a paced replay,
   * history replies) waits here first, so the queue never reaches `limits.maxQueueBytes` on
   * its account. Always yields to the event loop first: other connections are served between.
   */
  async whenWritable(maxBytes: number): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.state !== 'closed' && this.transport.bufferedAmount + this.queuedBytes > maxBytes) {
      // What is queued here leaves at the end of this turn (the outbox); what the transport
      // holds leaves when it drains (its signal, no timer).
      if (this.queuedBytes > 0) await new Promise((resolve) => setImmediate(resolve));
      else await this.transport.drained();
    }
  }

  private replyError(id: FrameId | undefined, err: ReplyError): void {
    this.host.metrics.error(err.code);
    this.send({ type: 'error', ...(id !== undefined ? { id } : {}), error: err });
  }

  // ---- inbound -----------------------------------------------------------------------

  /** A frame from the transport. Binary or invalid UTF-8 closes `3501`. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.lastSeenAt = Date.now();
    this.pingSentAt = 0;
    if (isBinary) return this.terminate(new Disconnect(CloseCode.bad_request, 'binary frames are not supported'));
    if (data.length > this.host.limits.maxFrameBytes) return this.terminate(new Disconnect(CloseCode.bad_request, 'frame too large'));
    if (!isUtf8(data)) return this.terminate(new Disconnect(CloseCode.bad_request, 'frame is not valid UTF-8'));
    if (!this.withinRate(data)) return;
    if (this.busy) {
      const pausable = this.transport.pause !== undefined;
      if (pausable ? this.inboxBytes + data.length > MAX_INBOX_BYTES : this.inbox.length >= MAX_INBOX) {
        return this.terminate(new Disconnect(CloseCode.too_many_requests, 'too_many_requests'));
      }
      this.inbox.push(data);
      this.inboxBytes += data.length;
      if (pausable && !this.readingPaused && this.inbox.length >= MAX_INBOX) {
        this.readingPaused = true;
        this.transport.pause!();
      }
      return;
    }
    void this.run(data);
  }

  /** False when this command must be refused (rate limit); far past it, the connection is closed. */
  private withinRate(frame: Buffer): boolean {
    const b = this.commands;
    if (b.take()) return true;
    if (b.debt > this.host.limits.commandsPerSecond) {
      this.terminate(new Disconnect(CloseCode.too_many_requests, 'too_many_requests'));
      return false;
    }
    // The refusal names the command it refuses, so the client knows which one to retry.
    this.replyError(this.protocol.idOf(frame), new ReplyError('too_many_requests', 'command rate limit exceeded; slow down'));
    return false;
  }

  /**
   * Runs `task` as if it were the next inbound frame: after the commands before it, before
   * those after it (protocol v1 authenticates with the upgrade's credentials so). It handles
   * its own errors (`fail`).
   */
  runInOrder(task: () => Promise<void>): void {
    if (this.state === 'closed') return;
    if (this.busy) this.inbox.push(task);
    else void this.run(task);
  }

  private async run(first: Buffer | (() => Promise<void>)): Promise<void> {
    this.busy = true;
    let next: Buffer | (() => Promise<void>) | undefined = first;
    while (next !== undefined && this.state !== 'closed') {
      await this.handle(next);
      next = this.inbox.shift();
      if (Buffer.isBuffer(next)) this.inboxBytes -= next.length;
      if (this.readingPaused && this.inbox.length <= MAX_INBOX / 2) {
        this.readingPaused = false;
        this.transport.resume!();
      }
    }
    this.busy = false;
  }

  private async handle(next: Buffer | (() => Promise<void>)): Promise<void> {
    try {
      await (Buffer.isBuffer(next) ? this.protocol.handle(this, next) : next());
    } catch (err) {
      this.fail(undefined, err); // protocols answer their commands' errors; this is the safety net
    }
  }

  /** Turns what a handler threw into a reply error or a disconnect: the one place that does. */
  fail(id: FrameId | undefined, err: unknown): void {
    const { error, unexpected } = classify(err);
    if (unexpected) limited(this.host.log).error({ err, client: this.id }, 'command failed');
    if (error instanceof Disconnect) this.terminate(error);
    else this.replyError(id, error);
  }

  // ---- end ---------------------------------------------------------------------------

  /** Refuses authentication: `auth_failed`, then the close frame with the same code. */
  rejectAuth(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const frame = this.encoder.event({ type: 'auth_failed', code, reason });
    if (frame !== undefined) this.queue.push(frame);
    this.flushNow();
    this.transport.close(code, reason);
    this.closed(code);
  }

  /** Sends `disconnect` (after whatever is queued) and closes with its code. */
  terminate(d: Disconnect): void {
    if (this.state === 'closed') return;
    if (d.code !== CloseCode.slow_consumer) {
      const frame = this.encoder.event({ type: 'disconnect', disconnect: d });
      if (frame !== undefined) this.queue.push(frame);
      this.flushNow();
    }
    const { code, reason } = this.encoder.close?.(d) ?? { code: d.code, reason: closeReason(d) };
    this.transport.close(code, reason);
    this.closed(d.code); // metrics count the gateway's codes, whatever the protocol sent
  }

  /**
   * Writes the queue in one go: one frame, one batch frame, or several frames corked.
   * `inPass`: called by the outbox's flush pass (else: at once, as the connection closes).
   */
  private flushNow(inPass = false): void {
    const q = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (q.length === 0) return;
    const outbox = this.host.outbox;
    if (!inPass) outbox.usedOutsidePass();
    if (q.length === 1) this.transport.send(q[0]!, outbox.encoder);
    else if (this.transport.batch) this.transport.send(outbox.joinBatch(q), outbox.encoder);
    else this.transport.sendMany(q, outbox.encoder);
  }

  /** The socket is gone (either side closed it). Idempotent. */
  closed(code: number): void {
    if (this.state === 'closed') return;
    this.phase = { state: 'closed', identity: this.identity };
    this.queue = [];
    this.inbox.length = 0;
    this.inboxBytes = 0;
    this.host.closed(this, code);
  }
}
