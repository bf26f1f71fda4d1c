import WebSocket from 'ws';
import { io, type Socket } from 'socket.io-client';
import type { Histogram } from '../lib/histogram.ts';
import { nowMicros } from '../lib/histogram.ts';

/** The systems the harness compares. */
export type Peer = 'switchboard' | 'switchboard-deflate' | 'switchboard-pusher' | 'socketio' | 'ws';
/**
 * Every peer the harness knows. `switchboard-deflate` is Switchboard with permessage-deflate
 * on and clients that offer it (as browsers do), run beside plain `switchboard` by `--deflate`.
 * `switchboard-pusher` is Switchboard with subscribers speaking Pusher protocol 7 (`/app/<key>`;
 * `fanout` only), the publisher on the native protocol.
 */
export const PEERS: readonly Peer[] = ['switchboard', 'switchboard-deflate', 'switchboard-pusher', 'socketio', 'ws'];
/** The peers a run compares when `--peers` is not given. */
export const DEFAULT_PEERS: readonly Peer[] = ['switchboard', 'socketio', 'ws'];

/** Counters a load worker keeps for all its clients. */
export interface Tally {
  delivered: number;
  hist: Histogram;
  /** Closes the client did not ask for. */
  unexpected: number;
  /** Close codes of those, code → count. */
  closeCodes: Record<string, number>;
  ready: number;
}

/** How one simulated client connects. */
export interface ClientSpec {
  peer: Peer;
  /** `http://127.0.0.1:PORT` */
  base: string;
  token: string;
  channels: string[];
  localAddress: string;
  /** Reconnect (and resubscribe) after a close it did not ask for. */
  reconnect: boolean;
  /** Socket.IO: the official `socket.io-client`, or the same protocol spoken over a bare `ws` client (lighter load generator). */
  sioClient?: 'raw' | 'official';
}

/** Client options shared by every peer: the load generator's own cost stays the same whatever the server. */
const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true } as const;
/** `switchboard-deflate` clients offer permessage-deflate (as browsers do); every other client stays plain. */
const DEFLATE_WS_OPTIONS = { ...WS_OPTIONS, perMessageDeflate: true } as const;

const MARK = Buffer.from('"t":');
/** The same mark inside a Pusher event's data, which is a JSON string (quotes escaped). */
const PUSHER_MARK = Buffer.from('\\"t\\":');

/**
 * Counts deliveries in a received text frame without parsing it: every payload carries
 * `"t":<µs timestamp>`, so one scan finds each message of a batch and its latency. The same
 * scan serves every peer, so the receiving side costs the same whatever the server.
 */
function scanDeliveries(buf: Buffer, hist: Histogram, mark: Buffer = MARK): number {
  let n = 0;
  let i = buf.indexOf(mark);
  if (i === -1) return 0;
  const now = nowMicros();
  while (i !== -1) {
    let j = i + mark.length;
    let v = 0;
    for (; j < buf.length; j++) {
      const c = buf[j]!;
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    hist.record(now - v);
    n++;
    i = buf.indexOf(mark, j);
  }
  return n;
}

const PONG = JSON.stringify({ type: 'pong' });
const PING_MARK = Buffer.from('"type":"ping"');

/** One simulated client. `onReady` fires each time it is (again) authenticated and subscribed. */
export abstract class BenchClient {
  protected readonly spec: ClientSpec;
  protected readonly tally: Tally;
  protected readonly onReady: (c: BenchClient) => void;
  isReady = false;
  closing = false;
  attempts = 0;

  constructor(spec: ClientSpec, tally: Tally, onReady: (c: BenchClient) => void) {
    this.spec = spec;
    this.tally = tally;
    this.onReady = onReady;
  }

  abstract start(): void;
  abstract close(): void;

  protected ready(): void {
    if (this.isReady) return;
    this.isReady = true;
    this.attempts = 0;
    this.tally.ready++;
    this.onReady(this);
  }

  protected lost(code: number): void {
    if (this.isReady) {
      this.isReady = false;
      this.tally.ready--;
    }
    if (this.closing) return;
    this.tally.unexpected++;
    this.tally.closeCodes[code] = (this.tally.closeCodes[code] ?? 0) + 1;
  }

  /** Reconnect delay: what the server asked for, else 0.5–1.5 s growing with failed attempts (capped). */
  protected retry(afterMs?: number): void {
    if (this.closing || !this.spec.reconnect) return;
    this.attempts++;
    const backoff = Math.min(10_000, 1000 * 2 ** Math.min(this.attempts - 1, 4)) * (0.5 + Math.random());
    const t = setTimeout(() => this.start(), afterMs ?? backoff);
    t.unref();
  }
}

/** Switchboard over the raw protocol: token in the URL, batch frames, answers pings. */
class SwitchboardClient extends BenchClient {
  private ws: WebSocket | undefined;
  private acks = 0;
  private reconnectAfterMs: number | undefined;

  start(): void {
    this.acks = 0;
    this.reconnectAfterMs = undefined;
    const url = `${this.spec.base.replace('http', 'ws')}/ws?batch=1&token=${this.spec.token}`;
    const ws = (this.ws = new WebSocket(url, { ...(this.spec.peer === 'switchboard-deflate' ? DEFLATE_WS_OPTIONS : WS_OPTIONS), localAddress: this.spec.localAddress }));
    ws.on('message', (buf: Buffer) => this.message(buf));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.lost(code);
      this.retry(this.reconnectAfterMs);
    });
  }

  private message(buf: Buffer): void {
    if (this.isReady) {
      const n = scanDeliveries(buf, this.tally.hist);
      this.tally.delivered += n;
      if (buf.indexOf(PING_MARK) !== -1) this.ws!.send(PONG);
      return;
    }
    const v = JSON.parse(buf.toString());
    for (const f of Array.isArray(v) ? v : [v]) {
      if (f.type === 'auth_success') {
        if (this.spec.channels.length === 0) this.ready();
        for (let i = 0; i < this.spec.channels.length; i++) this.ws!.send(`{"type":"subscribe","id":${i},"channel":${JSON.stringify(this.spec.channels[i])}}`);
      } else if (f.type === 'ack' && ++this.acks === this.spec.channels.length) this.ready();
      else if (f.type === 'ping') this.ws!.send(PONG);
      else if (f.type === 'disconnect') this.reconnectAfterMs = f.reconnectAfterMs;
      else if (f.type === 'error') throw new Error(`switchboard refused: ${JSON.stringify(f)}`);
    }
  }

  /** Publishes one message (the client is the publisher). */
  publish(channel: string, data: string): void {
    this.ws!.send(`{"type":"publish","channel":${JSON.stringify(channel)},"data":${data}}`);
  }

  close(): void {
    this.closing = true;
    this.ws?.terminate();
  }
}

/** The Pusher app key of the bench server (`servers/switchboard-pusher.ts`): its namespace is `bench`. */
const BENCH_PUSHER_KEY = 'bench-key';
const PUSHER_PING = Buffer.from('"pusher:ping"');
const PUSHER_PONG = '{"event":"pusher:pong","data":{}}';

/**
 * Pusher protocol 7 over a bare `ws` client, as pusher-js speaks it: `/app/<key>?protocol=7`,
 * `pusher:subscribe` once `pusher:connection_established` arrives, ready at
 * `pusher_internal:subscription_succeeded`, `pusher:pong` to the server's `pusher:ping`.
 * Channels are `bench:<name>` (the app's namespace), subscribed as `<name>`.
 */
class PusherWsClient extends BenchClient {
  private ws: WebSocket | undefined;
  private acks = 0;

  start(): void {
    this.acks = 0;
    const url = `${this.spec.base.replace('http', 'ws')}/app/${BENCH_PUSHER_KEY}?protocol=7&client=bench&version=1`;
    const ws = (this.ws = new WebSocket(url, { ...WS_OPTIONS, localAddress: this.spec.localAddress }));
    ws.on('message', (buf: Buffer) => {
      if (this.isReady) {
        this.tally.delivered += scanDeliveries(buf, this.tally.hist, PUSHER_MARK);
        if (buf.indexOf(PUSHER_PING) !== -1) ws.send(PUSHER_PONG);
        return;
      }
      const f = JSON.parse(buf.toString()) as { event: string };
      if (f.event === 'pusher:connection_established') {
        if (this.spec.channels.length === 0) this.ready();
        for (const ch of this.spec.channels) {
          if (!ch.startsWith('bench:')) throw new Error(`switchboard-pusher: channel ${ch} is not in the bench namespace`);
          ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: ch.slice(6) } }));
        }
      } else if (f.event === 'pusher_internal:subscription_succeeded' && ++this.acks === this.spec.channels.length) this.ready();
      else if (f.event === 'pusher:ping') ws.send(PUSHER_PONG);
      else if (f.event === 'pusher:subscription_error') throw new Error(`switchboard-pusher refused: ${buf.toString()}`);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.lost(code);
      this.retry();
    });
  }

  close(): void {
    this.closing = true;
    this.ws?.terminate();
  }
}

/** Bare `ws`: token in the URL (checked at upgrade), `{"sub":[…]}` answered `{"ok":1}`. */
class WsClient extends BenchClient {
  private ws: WebSocket | undefined;

  start(): void {
    const url = `${this.spec.base.replace('http', 'ws')}/?token=${this.spec.token}`;
    const ws = (this.ws = new WebSocket(url, { ...WS_OPTIONS, localAddress: this.spec.localAddress }));
    ws.on('open', () => ws.send(JSON.stringify({ sub: this.spec.channels })));
    ws.on('message', (buf: Buffer) => {
      if (this.isReady) {
        this.tally.delivered += scanDeliveries(buf, this.tally.hist);
      } else if (buf.toString() === '{"ok":1}') this.ready();
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.lost(code);
      this.retry();
    });
  }

  publish(channel: string, data: string): void {
    this.ws!.send(`{"pub":${JSON.stringify(channel)},"data":${data}}`);
  }

  close(): void {
    this.closing = true;
    this.ws?.terminate();
  }
}

/**
 * Socket.IO 4 spoken over a bare `ws` client (Engine.IO v4 + Socket.IO v5 packets): `40{auth}`
 * connects the main namespace, `420["sub",[…]]` → `430[]` joins rooms, `2` ping → `3` pong,
 * events `42["m",{…}]`. Same receive cost as the other peers' clients; the server is the
 * unmodified default Socket.IO server.
 */
class SocketIoRawClient extends BenchClient {
  private ws: WebSocket | undefined;

  start(): void {
    const url = `${this.spec.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const ws = (this.ws = new WebSocket(url, { ...WS_OPTIONS, localAddress: this.spec.localAddress }));
    ws.on('message', (buf: Buffer) => {
      const c0 = buf[0]!;
      if (c0 === 0x34 && buf[1] === 0x32) { // "42": an event
        if (this.isReady) this.tally.delivered += scanDeliveries(buf, this.tally.hist);
        return;
      }
      if (c0 === 0x32) return void ws.send('3'); // Engine.IO ping
      const text = buf.toString();
      if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token: this.spec.token })}`);
      else if (text.startsWith('40')) ws.send(`420${JSON.stringify(['sub', this.spec.channels])}`);
      else if (text.startsWith('430')) this.ready();
      else if (text.startsWith('44')) throw new Error(`socket.io refused: ${text}`);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.lost(code);
      this.retry();
    });
  }

  publish(channel: string, data: string): void {
    this.ws!.send(`42["pub",${JSON.stringify(channel)},${data}]`);
  }

  close(): void {
    this.closing = true;
    this.ws?.terminate();
  }
}

/**
 * Socket.IO 4 client: WebSocket transport only (the default would start every client with
 * HTTP long-polling), its own default reconnection; `sub` with an ack joins rooms.
 */
class SocketIoClient extends BenchClient {
  private socket: Socket | undefined;

  start(): void {
    const s = (this.socket = io(this.spec.base, {
      transports: ['websocket'],
      auth: { token: this.spec.token },
      forceNew: true,
      reconnection: this.spec.reconnect,
      localAddress: this.spec.localAddress,
    } as never));
    s.on('connect', () => s.emit('sub', this.spec.channels, () => this.ready()));
    s.on('m', (data: { t: number }) => {
      this.tally.delivered++;
      this.tally.hist.record(nowMicros() - data.t);
    });
    s.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      this.lost(reason === 'io server disconnect' ? 1000 : 1006);
    });
    s.on('connect_error', () => {});
  }

  publish(channel: string, data: string): void {
    this.socket!.emit('pub', channel, JSON.parse(data));
  }

  close(): void {
    this.closing = true;
    this.socket?.disconnect();
  }
}

/** Builds the client for a peer. */
export function createClient(spec: ClientSpec, tally: Tally, onReady: (c: BenchClient) => void): BenchClient & { publish(channel: string, data: string): void } {
  switch (spec.peer) {
    case 'switchboard':
    case 'switchboard-deflate': return new SwitchboardClient(spec, tally, onReady);
    // Subscribers speak Pusher; the publisher publishes on the native protocol (it has no channels).
    case 'switchboard-pusher': return spec.channels.length === 0 ? new SwitchboardClient(spec, tally, onReady) : Object.assign(new PusherWsClient(spec, tally, onReady), { publish: (): void => { throw new Error('Pusher subscribers do not publish'); } });
    case 'socketio': return spec.sioClient === 'official' ? new SocketIoClient(spec, tally, onReady) : new SocketIoRawClient(spec, tally, onReady);
    case 'ws': return new WsClient(spec, tally, onReady);
    default: {
      const never: never = spec.peer;
      throw new Error(`unknown peer ${never as string}`);
    }
  }
}
