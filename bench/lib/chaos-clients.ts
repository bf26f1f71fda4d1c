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
  /** When each acknowledgement arrived (ms since the epoch). */
  ackedAt: number[];
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
 * The publisher: numbers messages at `rate` per second over `rooms` (round robin) and
 * publishes each room's in order, one at a time, each retried until acknowledged (so that the
 * order it publishes in is the order it numbered). Switchboard: `publish` with an idempotency
 * key (`<room>-<n>`; the SDK itself resends an unanswered call after a reconnect); Socket.IO:
 * an emit with an acknowledgement and a timeout; `ws`: a frame answered `{"ack":id}`. A
 * failed attempt is retried after 250 ms. Numbers not yet sent when `stopNew` is called are
 * dropped (never published, so owed to no one).
 */
export async function publisher(peer: ChaosPeer, port: number, rooms: string[], rate: number): Promise<ChaosPublisher> {
  const acked = new Map(rooms.map((r) => [r, new Set<number>()]));
  let sendOnce: (room: string, n: number) => Promise<boolean>;
  let close: () => void;
  if (peer === 'switchboard') {
    const client = new Switchboard(`ws://127.0.0.1:${port}/ws`, { token: await token('publisher'), WebSocket: WebSocket as never, transports: ['websocket'], sessionStorageKey: null });
    sendOnce = (room, n) => client.publish(room, { n }, { id: `${room}-${n}` }).then(() => true, () => false);
    close = () => client.close();
  } else if (peer === 'socketio') {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    sendOnce = (room, n) => new Promise((resolve) => {
      socket.timeout(10_000).emit('pub', room, { n }, (err: Error | null) => resolve(!err));
    });
    close = () => { socket.disconnect(); };
  } else {
    const waiting = new Map<string, (ok: boolean) => void>();
    let w: WebSocket | undefined;
    let closed = false;
    const open = () => {
      const sock = new WebSocket(`ws://127.0.0.1:${port}/`);
      w = sock;
      sock.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { ack?: string };
        if (m.ack) waiting.get(m.ack)?.(true);
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        for (const done of waiting.values()) done(false);
        if (!closed) setTimeout(open, 1000);
      });
    };
    open();
    sendOnce = (room, n) => new Promise((resolve) => {
      const id = `${room}#${n}`;
      if (w?.readyState !== WebSocket.OPEN) { resolve(false); return; }
      const t = setTimeout(() => done(false), 10_000);
      const done = (ok: boolean) => { clearTimeout(t); waiting.delete(id); resolve(ok); };
      waiting.set(id, done);
      w.send(JSON.stringify({ pub: room, id, data: { n } }));
    });
    close = () => { closed = true; w?.terminate(); };
  }
  const queues = new Map(rooms.map((r) => [r, [] as number[]]));
  const ackedAt: number[] = [];
  const busy = new Set<string>();
  let closed = false;
  let numbered = 0;
  /** Publishes a room's queue in order, one at a time; each until acknowledged (or the publisher is closed). */
  const drain = async (room: string) => {
    if (busy.has(room)) return;
    busy.add(room);
    const q = queues.get(room)!;
    while (q.length > 0 && !closed) {
      const n = q[0]!;
      while (!closed && !(await sendOnce(room, n))) await new Promise((r) => setTimeout(r, 250));
      if (!closed) { acked.get(room)!.add(n); ackedAt.push(Date.now()); }
      q.shift();
    }
    busy.delete(room);
  };
  const counters = new Map(rooms.map((r) => [r, 0]));
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    const room = rooms[numbered++ % rooms.length]!;
    const n = counters.get(room)! + 1;
    counters.set(room, n);
    queues.get(room)!.push(n);
    void drain(room);
  }, 1000 / rate);
  return {
    acked,
    ackedAt,
    pending: () => busy.size,
    stopNew: () => {
      clearInterval(timer);
      timer = undefined;
      // What was numbered but not yet sent is never published; the one in flight is finished.
      for (const q of queues.values()) q.splice(1);
    },
    close: () => { closed = true; clearInterval(timer); close(); },
  };
}
