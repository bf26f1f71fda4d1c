import { applyDelta } from 'fossil-delta';
import type { DeltaFormat, MessageFrame, Publication } from '@switchboard/protocol';
import { SwitchboardError } from './errors.ts';

/** A `message` frame without its type: a publication, or (`delta: true`) a delta of one. */
export type IncomingMessage = Omit<MessageFrame, 'type'>;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The protocol's delta string (one character U+0000–U+00FF per byte) as bytes; undefined when it is not one. */
function latin1Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return undefined;
    out[i] = c;
  }
  return out;
}

/** The message without its `delta` flag. */
function publication(m: IncomingMessage, data: unknown): Publication {
  const { delta: _delta, ...pub } = m;
  return { ...pub, data };
}

/**
 * Applies a delta subscription's deltas (docs/protocol.md, "Delta compression"): keeps the
 * data of the channel's last message as UTF-8 JSON text, the base of the next delta, and
 * turns each `delta: true` message back into the full publication.
 *
 * A delta that cannot be applied (no base, a checksum mismatch, not UTF-8 JSON) throws a
 * `delta_failed` SwitchboardError and is never delivered; the deltas after it are dropped
 * (`undefined`) until a message with full data arrives (the resubscription's first).
 */
export class DeltaReceiver {
  readonly format: DeltaFormat;
  private base: Uint8Array | undefined;
  private broken = false;
  /** False once the server answered that it does not send deltas here: no base is kept. */
  private granted = true;

  constructor(format: DeltaFormat) {
    this.format = format;
  }

  /** The full publication of a message; undefined for a delta dropped after a failure. Throws `delta_failed`. */
  resolve(channel: string, m: IncomingMessage): Publication | undefined {
    if (m.delta !== true) {
      this.broken = false;
      if (this.granted) this.base = utf8.encode(JSON.stringify(m.data) ?? 'null');
      return m.delta === undefined ? m : publication(m, m.data);
    }
    if (this.broken) return undefined;
    try {
      const delta = typeof m.data === 'string' ? latin1Bytes(m.data) : undefined;
      if (delta === undefined) throw new Error('the delta is not a string of U+0000-U+00FF characters');
      if (this.base === undefined) throw new Error('no previous message to apply it to');
      const target = applyDelta(this.base, delta); // verifies the delta's checksum
      const data: unknown = JSON.parse(strictUtf8.decode(target));
      this.base = target;
      return publication(m, data);
    } catch (err) {
      this.base = undefined;
      this.broken = true;
      throw new SwitchboardError('delta_failed', `${channel}: a delta could not be applied (${(err as Error).message}); subscribing again`);
    }
  }

  /** The subscribe ack said whether deltas come (`delta: true`); until then they may. */
  grant(granted: boolean): void {
    this.granted = granted;
    if (!granted) this.base = undefined;
  }

  /** The connection was lost: the next subscription starts from full data. */
  reset(): void {
    this.base = undefined;
    this.broken = false;
    this.granted = true;
  }
}
