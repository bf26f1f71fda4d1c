import WebSocket from 'ws';
import { io, type Socket } from 'socket.io-client';
import { Switchboard } from '../../packages/client/src/index.ts';
import { mintToken } from '../../packages/server/src/index.ts';
import { CHAOS_SECRET, type ChaosPeer } from './chaos-system.ts';

/**
 * The numbered-message application of `npm run bench -- chaos`, written for each system the
 * way its users write it: a publisher numbering the messages of each room and retrying
 * until acknowledged, and subscribers recording every number they are handed, in order.
 */

/** One subscriber: the numbers it was handed, in arrival order (twice if handed twice). */
export interface ChaosSubscriber {
  room: string;
  arrivals: number[];
  /** Distinct numbers received (for completeness over time). */
  distinct: Set<number>;
  /** Switchboard's `gap` events (the gateway said it could not recover); 0 for the others. */
  gaps: number;
  /** Resolves once the first subscription is confirmed. */
  ready: Promise<void>;
  close(): void;
}

/** The publisher: what each room's acknowledged numbers are. */
export interface ChaosPublisher {
  acked: Map<string, Set<number>>;
  /** Publications sent and not yet acknowledged. */
  pending(): number;
  /** Stops numbering new messages (unacknowledged ones are still retried). */
  stopNew(): void;
  close(): void;
}

const token = (sub: string) => mintToken({ sub, secret: CHAOS_SECRET, ttlSec: 6 * 3600 });

function record(s: ChaosSubscriber, n: number): void {
  s.arrivals.push(n);
  s.distinct.add(n);
}

/** A subscriber of `room` on `peer` through the proxy at 127.0.0.1:`port`, with that system's own client and reconnect. */
export async function subscriber(peer: ChaosPeer, port: number, room: string, name: string): Promise<ChaosSubscriber> {
  const s: ChaosSubscriber = { room, arrivals: [], distinct: new Set(), gaps: 0, ready: Promise.resolve(), close: () => {} };
  if (peer === 'switchboard') {
    // The SDK with its defaults: reconnect with backoff, heartbeat, recovery by offset, dedup.
    const jwt = await token(name);
    const client = new Switchboard(`ws://127.0.0.1:${port}/ws`, { token: jwt, WebSocket: WebSocket as never, transports: ['websocket'], sessionStorageKey: null });
    const sub = client.subscribe(room);
    sub.on('message', (m) => record(s, (m.data as { n: number }).n));
    sub.on('gap', () => { s.gaps++; });
    s.ready = sub.ready().then(() => {});
    s.close = () => client.close();
  } else if (peer === 'socketio') {
    // socket.io-client with its defaults (reconnection on); rooms joined again unless the server recovered the session.
    const socket: Socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    let first: () => void = () => {};
    s.ready = new Promise((r) => { first = r; });
    socket.on('connect', () => {
      if (!socket.recovered) socket.emit('sub', [room], () => first());
    });
    socket.on('m', (d: { n: number }) => record(s, d.n));
    s.close = () => { socket.disconnect(); };
  } else {
    // Bare `ws`: on a close, reconnect after a second and subscribe again (no heartbeat, no recovery).
    let closed = false;
    let first: () => void = () => {};
    s.ready = new Promise((r) => { first = r; });
    let current: WebSocket | undefined;
    const open = () => {
      const w = new WebSocket(`ws://127.0.0.1:${port}/`);
      current = w;
      w.on('open', () => w.send(JSON.stringify({ sub: [room] })));
      w.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { n?: number; ok?: string };
        if (m.ok) first();
        else if (typeof m.n === 'number') record(s, m.n);
      });
      w.on('error', () => {});
      w.on('close', () => { if (!closed) setTimeout(open, 1000); });
    };
    open();
    s.close = () => { closed = true; current?.terminate(); };
  }
  return s;
}

/**
 * The publisher: `rate` messages per second over `rooms` (round robin), each numbered per
 * room and retried until acknowledged — with its idempotency key on Switchboard (the SDK
 * resends unanswered calls with the same id), by the client library's own means elsewhere
 * (Socket.IO buffers emits made while disconnected and the publisher re-emits after an ack
 * timeout; the `ws` publisher resends what is unacknowledged after a reconnect).
 */
export async function publisher(peer: ChaosPeer, port: number, rooms: string[], rate: number): Promise<ChaosPublisher> {
  const acked = new Map(rooms.map((r) => [r, new Set<number>()]));
  const next = new Map(rooms.map((r) => [r, 0]));
  const inFlight = new Set<string>();
  let k = 0;
  let timer: NodeJS.Timeout | undefined;
  let send: (room: string, n: number) => void;
  let close: () => void;
  const ack = (room: string, n: number) => {
    acked.get(room)!.add(n);
    inFlight.delete(`${room}#${n}`);
  };
  if (peer === 'switchboard') {
    const client = new Switchboard(`ws://127.0.0.1:${port}/ws`, { token: await token('publisher'), WebSocket: WebSocket as never, transports: ['websocket'], sessionStorageKey: null });
    send = (room, n) => {
      const attempt = (tries: number): void => {
        client.publish(room, { n }, { id: `${room}-${n}` }).then(() => ack(room, n), () => { if (tries > 0 && inFlight.has(`${room}#${n}`)) setTimeout(() => attempt(tries - 1), 500); });
      };
      attempt(200);
    };
    close = () => client.close();
  } else if (peer === 'socketio') {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    send = (room, n) => {
      const attempt = (tries: number): void => {
        socket.timeout(10_000).emit('pub', room, { n }, (err: Error | null) => {
          if (!err) ack(room, n);
          else if (tries > 0 && inFlight.has(`${room}#${n}`)) attempt(tries - 1);
        });
      };
      attempt(60);
    };
    close = () => { socket.disconnect(); };
  } else {
    const unacked = new Map<string, string>();
    let w: WebSocket | undefined;
    let closed = false;
    const open = () => {
      const sock = new WebSocket(`ws://127.0.0.1:${port}/`);
      w = sock;
      sock.on('open', () => { for (const f of unacked.values()) sock.send(f); });
      sock.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { ack?: string };
        if (!m.ack) return;
        unacked.delete(m.ack);
        const at = m.ack.lastIndexOf('#');
        ack(m.ack.slice(0, at), Number(m.ack.slice(at + 1)));
      });
      sock.on('error', () => {});
      sock.on('close', () => { if (!closed) setTimeout(open, 1000); });
    };
    open();
    send = (room, n) => {
      const id = `${room}#${n}`;
      const f = JSON.stringify({ pub: room, id, data: { n } });
      unacked.set(id, f);
      if (w?.readyState === WebSocket.OPEN) w.send(f);
    };
    close = () => { closed = true; w?.terminate(); };
  }
  const tick = 1000 / rate;
  timer = setInterval(() => {
    const room = rooms[k++ % rooms.length]!;
    const n = next.get(room)! + 1;
    next.set(room, n);
    inFlight.add(`${room}#${n}`);
    send(room, n);
  }, tick);
  return {
    acked,
    pending: () => inFlight.size,
    stopNew: () => { clearInterval(timer); timer = undefined; },
    close: () => { clearInterval(timer); close(); },
  };
}
