import { constants, deflateRawSync } from 'node:zlib';
import * as wsModule from 'ws';
import { fanoutSlot } from './fanout.ts';

/** `ws`'s public frame builder (see `ws.ts`); `@types/ws` does not declare it. */
type FrameFn = (data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }) => Buffer[];
const frameWith: FrameFn = (wsModule as unknown as { Sender: { frame: FrameFn } }).Sender.frame;
/** A text frame whose payload is compressed: RSV1 set (RFC 7692 §6). */
const DEFLATED_TEXT_FRAME = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: true };
/** The empty stored block a sync flush ends with; RFC 7692 §7.2.1 removes it from the wire. */
const TAIL_LENGTH = 4;

/**
 * One complete permessage-deflate text frame for `payload`, valid on every connection that
 * negotiated `server_no_context_takeover` with a 32 KiB window: the message is compressed
 * on its own (no shared dictionary), so the same bytes decode on any of them. Null when
 * compression would not make it smaller (the caller sends it plain, which is always
 * allowed). A fan-out compresses each payload once (`DEFLATED_FRAME_SLOT`).
 */
export function deflatedFrame(payload: Buffer): Buffer | null {
  const z = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH, windowBits: 15 });
  const body = z.subarray(0, z.length - TAIL_LENGTH);
  let frame: Buffer | null = null;
  if (body.length < payload.length) {
    const [head, rest] = frameWith(body, DEFLATED_TEXT_FRAME);
    frame = rest ? Buffer.concat([head!, rest], head!.length + rest.length) : head!;
  }
  return frame;
}

/** A fan-out's payload compressed once for every connection that takes it in the pass (`FanoutEncoder`). */
export const DEFLATED_FRAME_SLOT = fanoutSlot('permessage-deflate frame', deflatedFrame);

/**
 * Whether frames compressed by `deflatedFrame` may go to a connection, from the
 * `Sec-WebSocket-Extensions` response the server sent: permessage-deflate with
 * `server_no_context_takeover` and no `server_max_window_bits` below 15 (a client that asked
 * for a smaller window gets plain frames, which RFC 7692 always allows).
 */
export function sharedDeflateAllowed(responseExtensions: string | undefined): boolean {
  if (!responseExtensions) return false;
  const offer = responseExtensions.split(',')[0]!.split(';').map((p) => p.trim());
  if (offer[0] !== 'permessage-deflate' || !offer.includes('server_no_context_takeover')) return false;
  const bits = offer.find((p) => p.startsWith('server_max_window_bits'));
  return bits === undefined || bits.split('=')[1]?.replace(/"/g, '') === '15';
}
