import type { AckFrame, ClientFrame, ErrorFrame, FrameId } from '@switchboard/protocol';
import { SwitchboardError, errorOfFrame } from './errors.ts';
import type { OverflowPolicy } from './options.ts';

/** A command waiting for its `ack` or `error`. */
interface Entry {
  frame: ClientFrame & { id: FrameId };
  resolve: (ack: AckFrame) => void;
  reject: (err: SwitchboardError) => void;
}

/**
 * Commands in flight and the offline queue.
 *
 * - A command sent on a connection stays in flight until its `ack`/`error`. When the
 *   connection is lost it is sent again, with the same id, on the next connection: the
 *   server stores a publish id once per channel (idempotency), so a retry is never a duplicate.
 * - A command made while not connected waits in the offline queue (at most `max`); when the
 *   queue is full the overflow policy rejects either the new call or the oldest queued one.
 *   Nothing is ever dropped without its promise being rejected.
 * - Order is kept: in-flight commands are re-sent first, then the queue, oldest first.
 */
export class Requests {
  private readonly inflight = new Map<FrameId, Entry>();
  private queue: Entry[] = [];
  private readonly max: number;
  private readonly overflow: OverflowPolicy;

  constructor(max: number, overflow: OverflowPolicy) {
    this.max = max;
    this.overflow = overflow;
  }

  /** Calls waiting in the offline queue. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Sends a command now (`send` returns true when it left) or queues it.
   * Resolves with the `ack`; rejects with the `error` (or when the queue overflows or the client closes).
   */
  submit(frame: ClientFrame & { id: FrameId }, send: ((f: ClientFrame) => boolean) | undefined): Promise<AckFrame> {
    return new Promise<AckFrame>((resolve, reject) => {
      const entry: Entry = { frame, resolve, reject };
      if (send && send(frame)) {
        this.inflight.set(frame.id, entry);
        return;
      }
      if (this.queue.length >= this.max) {
        const full = () => new SwitchboardError('queue_full', `offline queue full (${this.max} calls waiting)`, { temporary: true, id: frame.id });
        if (this.overflow === 'reject-new' || this.max === 0) return reject(full());
        const oldest = this.queue.shift()!;
        oldest.reject(new SwitchboardError('queue_full', `offline queue full (${this.max} calls waiting): the oldest call was rejected`, { temporary: true, id: oldest.frame.id }));
      }
      this.queue.push(entry);
    });
  }

  /** Settles the command an `ack`/`error` answers; false when no command has that id. */
  settle(frame: AckFrame | ErrorFrame): boolean {
    if (frame.id === undefined) return false;
    const entry = this.inflight.get(frame.id);
    if (!entry) return false;
    this.inflight.delete(frame.id);
    if (frame.type === 'ack') entry.resolve(frame);
    else entry.reject(errorOfFrame(frame));
    return true;
  }

  /** On a new connection: re-sends what was in flight, then the queue, in order. */
  resend(send: (f: ClientFrame) => boolean): void {
    for (const entry of this.inflight.values()) if (!send(entry.frame)) return;
    while (this.queue.length > 0) {
      const entry = this.queue[0]!;
      if (!send(entry.frame)) return;
      this.queue.shift();
      this.inflight.set(entry.frame.id, entry);
    }
  }

  /** Rejects everything (the client closed). */
  rejectAll(make: (id: FrameId) => SwitchboardError): void {
    const all = [...this.inflight.values(), ...this.queue];
    this.inflight.clear();
    this.queue = [];
    for (const e of all) e.reject(make(e.frame.id));
  }
}
