import { encodeFrame, type Publication, type ServerFrame } from '@switchboard/protocol';
import type { ProtocolEncoder, ServerEvent } from '../../connection/protocol.ts';
import { disconnectFrame, errorFrame } from '../../errors.ts';

/** The channel the server API's `sendToAll` frames carry: not a valid channel name, so it never collides with one. */
const ALL_CHANNEL = '*';

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
  if (pub.tags !== undefined) frame.tags = pub.tags;
  return Buffer.from(encodeFrame(frame as never));
}

/** One protocol v1 frame as the bytes the transports send. */
export function encodeV1(frame: ServerFrame): Buffer {
  return Buffer.from(encodeFrame(frame));
}

const PING = encodeV1({ type: 'ping' });

/** The frame of an event in protocol v1 (docs/protocol.md). */
function frameOf(e: ServerEvent): ServerFrame {
  switch (e.type) {
    case 'join':
      return { type: 'join', channel: e.channel, user: e.user, client: e.client, ...(e.info !== undefined ? { info: e.info } : {}) };
    case 'leave':
      return { type: 'leave', channel: e.channel, user: e.user, client: e.client };
    case 'update':
      return { type: 'update', channel: e.channel, user: e.user, client: e.client, info: e.info };
    case 'online':
    case 'offline':
    case 'subscribed':
    case 'unsubscribed':
    case 'token_expiring':
    case 'auth_failed':
      return e;
    case 'ping':
      return { type: 'ping' };
    case 'broadcast':
      return { type: 'message', channel: ALL_CHANNEL, data: e.data, ts: e.ts };
    case 'error':
      return errorFrame(e.id, e.error);
    case 'disconnect':
      return disconnectFrame(e.disconnect);
    default: {
      const never: never = e;
      throw new Error(`unknown event ${(never as ServerEvent).type}`);
    }
  }
}

/** Protocol v1 JSON: every event has a frame of its own. */
export const v1Encoder: ProtocolEncoder = {
  publication: encodeMessage,
  event: (e) => (e.type === 'ping' ? PING : encodeV1(frameOf(e))),
};
