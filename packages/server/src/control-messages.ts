import { Disconnect } from '@switchboard/protocol';
import type { ControlMessage } from './broker/broker.ts';
import type { ResolvedChannel } from './channels.ts';
import { EncodedOnce } from './connection/protocol.ts';
import type { NodeRequests } from './cluster/node-requests.ts';
import { limited } from './log-limit.ts';
import { subscribeOnBehalf, unsubscribeOnBehalf } from './subscriptions/server-subscriptions.ts';
import type { NodeServices } from './services.ts';

/**
 * What a node does with the control messages every node sends (`Broker.publishControl`):
 * kicks and forced disconnects, server-side subscribe and unsubscribe, blocks and
 * revocations, presence events, the server API's push to all, and node-to-node requests.
 */
export class ControlMessages {
  private readonly o: { services: NodeServices; requests: NodeRequests };

  constructor(o: { services: NodeServices; requests: NodeRequests }) {
    this.o = o;
  }

  /** Acts on one control message (an exhaustive switch). */
  handle(msg: ControlMessage): void {
    const s = this.o.services;
    switch (msg.type) {
      case 'disconnect': {
        for (const conn of [...s.hub.connectionsOf(msg.user), ...s.sso.authenticatingOf(msg.user)]) {
          const id = conn.identity;
          if (msg.session !== undefined && id.session !== msg.session) continue;
          if (msg.login !== undefined && id.login !== msg.login) continue;
          if (msg.exceptClient === conn.id) continue;
          conn.terminate(new Disconnect(msg.code, msg.reason));
        }
        return;
      }
      case 'unsubscribe': {
        for (const conn of [...s.hub.connectionsOf(msg.user)]) unsubscribeOnBehalf(s, conn, msg.channel);
        return;
      }
      case 'subscribe': {
        let ch: ResolvedChannel;
        try {
          ch = s.channels.resolve(msg.channel);
        } catch {
          return; // another node's configuration knows a namespace this one does not
        }
        if (ch.owner !== undefined && ch.owner !== msg.user) {
          // The API refuses it; a node of an older version (or anyone who can write to the broker) may not.
          limited(s.log).warn({ channel: ch.name }, 'server-side subscribe to another user\'s personal channel refused');
          return;
        }
        for (const conn of [...s.hub.connectionsOf(msg.user)]) {
          subscribeOnBehalf(s, conn, ch, msg.persist).catch((err) => s.failures.report(err, 'server-side subscribe'));
        }
        return;
      }
      case 'access': {
        s.access.onAccessMessage(msg, [...s.hub.connectionsOf(msg.user), ...s.sso.authenticatingOf(msg.user)]);
        return;
      }
      case 'user_event': {
        s.tracker.deliverUserEvent(msg.event, msg.user);
        return;
      }
      case 'presence': {
        s.tracker.deliverPresenceEvent(msg);
        return;
      }
      case 'all': {
        // Server API push `all`: to every authenticated connection here, encoded once per protocol.
        const frames = new EncodedOnce((e) => e.event({ type: 'broadcast', data: msg.data, ts: msg.ts }));
        for (const conn of s.hub.clients.values()) {
          const frame = frames.for(conn.encoder);
          if (frame !== undefined) conn.enqueue(frame);
        }
        return;
      }
      case 'request': {
        this.o.requests.onRequest(msg);
        return;
      }
      case 'reply': {
        this.o.requests.onReply(msg);
        return;
      }
      default: {
        const never: never = msg;
        limited(s.log).warn({ type: (never as { type?: unknown }).type }, 'unknown control message');
      }
    }
  }

}
