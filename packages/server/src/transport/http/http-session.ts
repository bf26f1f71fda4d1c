import type { ServerResponse } from 'node:http';
import type { Transport, TransportSession } from '../transport.ts';
import { fanoutSlot, type FanoutEncoder } from '../fanout.ts';
import { streamDrained } from '../drain.ts';

import type { Metrics } from '../../metrics.ts';

/** The HTTP fallback transports (the WebSocket one is `websocket`). */
export type HttpTransportName = 'http-stream' | 'sse' | 'long-polling';

/** Where one long-poll's answer goes: a local HTTP response, or a reply to another node. */
export type PollAnswer = (body: Buffer) => void;

/** What a session needs from the registry that holds it. */
export interface SessionOwner {
  readonly metrics: Metrics;
  /** How long a poll is held open without anything to send; also how long a poller may be away. */
  readonly pollTimeoutMs: number;
  /** The session ended: forget its id. */
  forget(handle: string): void;
}

const NL = Buffer.from('\n');
const DATA = Buffer.from('data: ');
const END_EVENT = Buffer.from('\n\n');

/**
 * A transport record (not a protocol frame): one JSON object with a `transport` key.
 * `open` carries the connection id, `close` the close code and reason, `poll` the batch number.
 */
function record(r: { transport: 'open' | 'close' | 'poll' } & Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(r));
}

/** One protocol frame (or record) as a line of the HTTP-streaming and long-polling formats. */
function line(frame: Buffer): Buffer {
  return Buffer.concat([frame, NL]);
}

/** One protocol frame (or record) as a server-sent event (`data: <json>` and a blank line). */
function sseEvent(frame: Buffer): Buffer {
  return Buffer.concat([DATA, frame, END_EVENT]);
}

/** A fan-out's frame as a line, and as an event: built once per payload (`FanoutEncoder`). */
const LINE = fanoutSlot('http line', line);
const SSE_EVENT = fanoutSlot('sse event', sseEvent);

/**
 * One client of an HTTP transport, as the connection core sees it (the `Transport` seam).
 * Streams (`http-stream`, `sse`) write each frame to one long response; `long-polling`
 * holds frames until the client's next poll and keeps the last batch until the poll after
 * it confirms it (`seq`), so a poll response lost on the way is sent again.
 */
export class HttpSession implements Transport {
  readonly name: HttpTransportName;
  /** The connection id (`<node>.<handle>.<mac>`): a credential, never logged. */
  readonly id: string;
  readonly handle: string;
  readonly batch: boolean;
  conn: TransportSession | undefined;
  readonly kind: string;
  private readonly owner: SessionOwner;
  private res: ServerResponse | undefined;
  private ended = false;
  private forgotten = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private inflight: { seq: number; body: Buffer } | undefined;
  private waiter: { answer: PollAnswer; timer: ReturnType<typeof setTimeout> } | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;
  /** `drained()` callers of a long-polling session: woken by the next poll, or the end. */
  private drainWaiters: Array<() => void> = [];
  /** Set while the connection takes no more commands (its inbox is full): `/send` answers wait. */
  private paused = false;
  private unpaused: Array<() => void> = [];

  constructor(o: { name: HttpTransportName; id: string; handle: string; batch: boolean; owner: SessionOwner }) {
    this.name = o.name;
    this.kind = o.name;
    this.id = o.id;
    this.handle = o.handle;
    this.batch = o.batch;
    this.owner = o.owner;
  }

  /** Streams: takes the response (headers already written) and writes the `open` record. */
  attach(res: ServerResponse): void {
    this.res = res;
    this.write(record({ transport: 'open', conn: this.id }));
    res.on('close', () => this.gone());
  }

  /** Long-polling: the `open` answer; the session waits for the first poll (`seq=0`). */
  opened(): Buffer {
    this.armIdle();
    return line(record({ transport: 'open', conn: this.id }));
  }

  send(frame: Buffer, fanout: FanoutEncoder): void {
    if (this.ended) return; // closed: nothing more goes out (the close record was the last)
    this.owner.metrics.bytesOut += frame.length;
    if (this.res) this.write(frame, fanout);
    else if (this.name === 'long-polling') {
      this.hold(fanout.memo(LINE, frame));
      this.answer();
    }
  }

  sendMany(frames: readonly Buffer[], fanout: FanoutEncoder): void {
    if (this.ended) return;
    const res = this.res;
    if (res) {
      res.cork();
      for (const f of frames) this.send(f, fanout);
      res.uncork();
      return;
    }
    for (const f of frames) {
      this.owner.metrics.bytesOut += f.length;
      this.hold(fanout.memo(LINE, f));
    }
    this.answer();
  }

  close(code: number, reason: string): void {
    if (this.ended) return;
    const closing = record({ transport: 'close', code, reason });
    if (this.res) {
      this.write(closing);
      this.res.end();
      this.ended = true;
      this.forget();
      return;
    }
    this.hold(line(closing));
    this.ended = true;
    this.answer();
  }

  /**
   * The connection's inbox is full: the answers of `/send` wait (`accepting`) until it has
   * room again, so a client that sends its next `/send` after the previous one is answered
   * is slowed down as TCP backpressure slows a WebSocket client.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake();
  }

  /** Resolves at once, or once the connection takes commands again, ends, or `maxMs` passed. */
  accepting(maxMs: number): Promise<void> | undefined {
    if (!this.paused || this.ended) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.unpaused.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiting = this.unpaused;
    this.unpaused = [];
    for (const w of waiting) w();
  }

  /**
   * Resolves once what is buffered now may have left: a stream's socket took it, or (long
   * polling) the client polled again, taking or confirming a batch; at once when it ended.
   */
  drained(): Promise<void> {
    const socket = this.res?.socket;
    if (this.res) return socket ? streamDrained(socket) : Promise.resolve();
    if (this.forgotten) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrained(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  get bufferedAmount(): number {
    return this.res ? this.res.writableLength : this.pendingBytes + (this.inflight?.body.length ?? 0);
  }

  /**
   * A long-poll with the number of the last batch the client received. Answers at once when
   * frames wait (or the last batch was lost: it is sent again), else when frames arrive or
   * after `pollTimeoutMs` with an empty batch. A newer poll answers an older one empty.
   */
  poll(seq: number, answer: PollAnswer): boolean {
    if (this.inflight) {
      if (seq === this.inflight.seq) this.inflight = undefined;
      else if (seq === this.inflight.seq - 1) {
        this.armIdle();
        answer(this.inflight.body);
        return true;
      } else return false;
    } else if (seq !== this.seq) return false;
    clearTimeout(this.idle);
    this.release();
    const timer = setTimeout(() => this.release(), this.owner.pollTimeoutMs);
    this.waiter = { answer, timer };
    if (this.pending.length > 0) this.answer();
    this.wakeDrained();
    return true;
  }

  /**
   * The client asked to close (`POST /close`, on whichever node it landed): the close record
   * (`1000`) and the end of the stream response (or the answer to a waiting poll), then the
   * connection is told, as when the server closes it.
   */
  closeByClient(): void {
    if (this.ended) return this.forget();
    this.close(1000, 'client_closed');
    this.conn?.closed(1000);
  }

  /** The client went away (it closed its stream, or a poller stopped polling). */
  gone(): void {
    if (this.ended) return this.forget();
    this.ended = true;
    this.forget();
    this.conn?.closed(1006);
  }

  /** Writes a frame or record to the stream (through the fan-out encoder when it is a fan-out's). */
  private write(frame: Buffer, fanout?: FanoutEncoder): void {
    const sse = this.name === 'sse';
    this.res!.write(fanout ? fanout.memo(sse ? SSE_EVENT : LINE, frame) : sse ? sseEvent(frame) : line(frame));
  }

  private hold(b: Buffer): void {
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  /** Sends what waits to the waiting poll, as batch `seq + 1`. */
  private answer(): void {
    const w = this.waiter;
    if (!w || this.pending.length === 0) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    const body = Buffer.concat([line(record({ transport: 'poll', seq: ++this.seq })), ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
    this.inflight = { seq: this.seq, body };
    w.answer(body);
    if (this.ended) this.forget();
    else this.armIdle();
  }

  /** Answers the waiting poll with an empty batch (nothing new; `seq` unchanged). */
  private release(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.answer(line(record({ transport: 'poll', seq: this.seq })));
    if (!this.forgotten) this.armIdle();
  }

  /** A poller that does not poll again within `pollTimeoutMs` is gone. */
  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.gone(), this.owner.pollTimeoutMs);
  }

  /** Forgets the session (its id stops working); once. */
  private forget(): void {
    if (this.forgotten) return;
    this.forgotten = true;
    this.wakeDrained();
    clearTimeout(this.idle);
    this.release();
    this.wake();
    this.owner.forget(this.handle);
  }
}
