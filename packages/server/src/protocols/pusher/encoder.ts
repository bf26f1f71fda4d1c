import type { Disconnect, Publication } from '@switchboard/protocol';
import type { ProtocolEncoder, ServerEvent } from '../../connection/protocol.ts';
import { pusherNameOf } from './apps.ts';
import { pusherCloseCode } from './codes.ts';
import { PLAIN_EVENT, pusherEventOf } from './events.ts';

/** One Pusher frame as the bytes the transports send. */
export function pusherFrame(frame: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

/**
 * A publication as a Pusher event on its channel (the namespace dropped). Presence channels:
 * `user_id` is the publishing user (client events carry it so). Channels with history carry
 * the extension field `position` (`{epoch, offset}`), which stock clients ignore and a
 * recovering client sends back as `since` (docs/pusher.md, "Extensions").
 */
function encodePublication(pub: Publication): Buffer {
  const { event, data } = pusherEventOf(pub.data);
  const channel = pusherNameOf(pub.channel);
  const frame: Record<string, unknown> = { event, channel, data };
  if (pub.from !== undefined && channel.startsWith('presence-')) frame.user_id = pub.from;
  if (pub.offset !== undefined) frame.position = { epoch: pub.epoch, offset: pub.offset };
  return pusherFrame(frame);
}

const PING = pusherFrame({ event: 'pusher:ping', data: {} });

/** `pusher:error`: `code` a number (or null), `message` text. */
function errorFrame(code: number | null, message: string): Buffer {
  return pusherFrame({ event: 'pusher:error', data: { code, message } });
}

/** The frame of a gateway event in protocol 7; undefined when Pusher has none. */
function eventFrame(e: ServerEvent): Buffer | undefined {
  switch (e.type) {
    case 'join': {
      // One per user, as Pusher announces members: not for its second connection.
      if (e.first === false) return undefined;
      const channel = pusherNameOf(e.channel);
      if (!channel.startsWith('presence-')) return undefined;
      return pusherFrame({ event: 'pusher_internal:member_added', channel, data: JSON.stringify({ user_id: e.user, user_info: e.info ?? null }) });
    }
    case 'leave': {
      if (e.last === false) return undefined;
      const channel = pusherNameOf(e.channel);
      if (!channel.startsWith('presence-')) return undefined;
      return pusherFrame({ event: 'pusher_internal:member_removed', channel, data: JSON.stringify({ user_id: e.user }) });
    }
    case 'ping':
      return PING;
    case 'broadcast':
      // The server API's push to every connection: a channel-less event.
      return pusherFrame({ event: PLAIN_EVENT, data: pusherEventOf(e.data).data });
    case 'error':
      return errorFrame(e.error.code === 'too_many_requests' ? 4301 : null, e.error.message);
    case 'disconnect':
      return errorFrame(pusherCloseCode(e.disconnect), e.disconnect.reason);
    case 'auth_failed':
      return errorFrame(4009, e.reason);
    case 'online':
    case 'offline':
      // Only connections watching the user get it (a signed-in user's watchlist).
      return pusherFrame({ event: 'pusher_internal:watchlist_events', data: JSON.stringify({ events: [{ name: e.type, user_ids: [e.user] }] }) });
    case 'subscribed':
    case 'unsubscribed':
    case 'token_expiring':
    case 'update': // Pusher has no event for a member's changed info
      return undefined;
    default: {
      const never: never = e;
      throw new Error(`unknown event ${(never as ServerEvent).type}`);
    }
  }
}

/** Pusher protocol 7: publications as channel events, the gateway's events mapped or dropped, close codes mapped. */
export const pusherEncoder: ProtocolEncoder = {
  publication: encodePublication,
  event: eventFrame,
  close: (d: Disconnect) => ({ code: pusherCloseCode(d), reason: d.reason.slice(0, 120) }),
};
