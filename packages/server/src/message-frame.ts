import { encodeFrame, type Publication } from '@switchboard/protocol';

/**
 * Encodes a publication as a `message` frame, once for all its subscribers. With `delta`
 * (a delta subscription's frame, see `delta/channel-delta.ts`), `data` is that delta string
 * and the frame says `"delta": true`.
 */
export function encodeMessage(pub: Publication, delta?: string): Buffer {
  const frame: Record<string, unknown> = { type: 'message', channel: pub.channel };
  if (pub.offset !== undefined) frame.offset = pub.offset;
  if (pub.epoch !== undefined) frame.epoch = pub.epoch;
  if (delta === undefined) frame.data = pub.data;
  else {
    frame.data = delta;
    frame.delta = true;
  }
  if (pub.from !== undefined) frame.from = pub.from;
  if (pub.id !== undefined) frame.id = pub.id;
  frame.ts = pub.ts;
  return Buffer.from(encodeFrame(frame as never));
}
