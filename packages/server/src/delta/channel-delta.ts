import { createDelta } from 'fossil-delta';
import type { Publication } from '@switchboard/protocol';
import type { Subscription } from '../connection/connection.ts';
import type { ProtocolEncoder } from '../connection/protocol.ts';

/** How many deltas this process computed (tests pin "once per publication per channel" with it). */
export const deltaStats = { computed: 0 };

/**
 * The bytes of a publication's data that deltas are computed over: its JSON text as the
 * `message` frame carries it (`JSON.stringify`), in UTF-8.
 */
function deltaBase(data: unknown): Buffer {
  return Buffer.from(JSON.stringify(data) ?? 'null');
}

/**
 * A Fossil delta from `source` to `target` as the protocol carries it: a string with one
 * character (U+0000–U+00FF) per byte of the delta ("latin1"). JSON text is mostly ASCII, so
 * this costs about one byte per delta byte on the wire, where base64 would cost 4/3.
 */
function fossilDelta(source: Uint8Array, target: Uint8Array): string {
  const d = createDelta(source, target);
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1');
}

/**
 * The delta state of one channel on this node while it has local delta subscribers
 * (`subscribe` with `delta`): the previous publication's data (the base of the next delta)
 * and a count of the publications the hub delivered, so that a subscriber gets a delta only
 * when the last publication it received is the channel's immediately previous one.
 *
 * Each delta is computed once per publication (lazily, by the first subscriber that can use
 * it) and encoded once per protocol: every delta subscriber in step shares the same frame.
 */
export class ChannelDelta {
  /** Local delta subscribers of the channel. */
  subscribers = 0;
  /** Number of the publication being delivered (1 for the first one seen). */
  private seq = 0;
  /** The current publication's data bytes: the next one's base. */
  private base: Buffer | undefined;
  /** The previous publication's data bytes, while the current one is delivered. */
  private previous: Buffer | undefined;
  private pub: Publication | undefined;
  /** The current publication's delta (computed once), and its frame in the protocol that asked for it. */
  private delta: string | null | undefined;
  private frame: { encoder: ProtocolEncoder; frame: Buffer } | undefined;

  /** A publication is being delivered. */
  begin(pub: Publication): void {
    this.seq++;
    this.previous = this.base;
    this.base = deltaBase(pub.data);
    this.pub = pub;
    this.delta = undefined;
    this.frame = undefined;
  }

  /**
   * The frame for a delta subscriber that is being given the current publication (`full`:
   * its plain frame in the subscriber's protocol), and records that it was: the delta frame
   * when its last one was the previous publication and the delta is smaller, else `full`.
   */
  frameFor(sub: Subscription, full: Buffer): Buffer {
    const last = sub.delta;
    sub.delta = this.seq;
    if (last !== this.seq - 1 || this.previous === undefined) return full;
    const encoder = sub.conn.encoder;
    if (this.frame?.encoder !== encoder) this.frame = { encoder, frame: this.encode(encoder, full) };
    return this.frame.frame;
  }

  /** The delivery is over: only the base is kept. */
  end(): void {
    this.previous = this.pub = this.delta = this.frame = undefined;
  }

  private encode(encoder: ProtocolEncoder, full: Buffer): Buffer {
    try {
      if (this.delta === undefined) {
        deltaStats.computed++;
        this.delta = fossilDelta(this.previous!, this.base!);
      }
      if (this.delta === null) return full;
      const frame = encoder.publication(this.pub!, this.delta);
      return frame.length < full.length ? frame : full;
    } catch {
      this.delta = null;
      return full; // never expected; full data is always correct, and fan-out must go on
    }
  }
}
