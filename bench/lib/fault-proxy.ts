import { createServer, connect, type Server, type Socket } from 'node:net';

/** Where a proxy forwards a new connection: one address of the system under test. */
export interface Target { host: string; port: number }

/** Latency and loss the proxy imitates (the fallback when `tc netem` cannot run here). */
export interface Shape {
  /** One-way delay added to every chunk (ms). */
  delayMs: number;
  /** Uniform jitter on top (± ms). */
  jitterMs: number;
  /** Share of chunks "lost": each is held one retransmission timeout longer (TCP resends it), holding what follows. */
  loss: number;
}

/** TCP's retransmission timeout on a lost segment, the floor Linux uses (ms). */
const RTO_MS = 200;

/**
 * One direction of a proxied connection: an ordered queue of chunks (and the end, `null`)
 * written to `out` one at a time, each when its time comes. Paused (a stall, the network
 * offline), it keeps what arrives and delivers it on resume, as TCP's retransmissions do;
 * dropped (a silent drop), it discards everything and never propagates the end.
 */
class Lane {
  out: Socket | undefined;
  paused = false;
  dropped = false;
  private readonly queue: Array<{ chunk: Buffer | null; due: number }> = [];
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;

  private readonly shape: () => Shape | null;
  private readonly onEnd: () => void;

  constructor(shape: () => Shape | null, onEnd: () => void) {
    this.shape = shape;
    this.onEnd = onEnd;
  }

  push(chunk: Buffer | null): void {
    if (this.dropped) return;
    const s = this.shape();
    let due = Date.now();
    if (s) due += Math.max(0, s.delayMs + (Math.random() * 2 - 1) * s.jitterMs) + (Math.random() < s.loss ? RTO_MS : 0);
    this.lastDue = Math.max(this.lastDue, due);
    this.queue.push({ chunk, due: this.lastDue });
    this.pump();
  }

  drop(): void {
    this.dropped = true;
    this.queue.length = 0;
    clearTimeout(this.timer);
  }

  pump(): void {
    if (this.timer || this.paused || this.dropped || !this.out) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, wait);
        return;
      }
      this.queue.shift();
      if (head.chunk === null) { this.onEnd(); return; }
      this.out.write(head.chunk);
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

interface Pair { client: Socket; server: Socket; up: Lane; down: Lane; stalledUntil: number }

/**
 * The fault injector in front of one client: a TCP proxy on 127.0.0.1 forwarding each new
 * connection to the next of `targets()` (round robin, skipping those that refuse), which
 * the benchmark breaks on command: `rst()` (both ends reset at once), `drop()` (silent: no
 * byte and no close ever passes again on the current connections; each end finds out by its
 * own heartbeat), `stall(ms)` (half-open for `ms`, then what was sent meanwhile arrives, as TCP
 * retransmits it), `offline(true)` (the client's side of its connections fails, the server's
 * hears nothing, new connections are refused until `offline(false)`), `shape(…)` (latency and loss). Counts the connections it forwarded,
 * with when (`connects`: the reconnect storm).
 */
export class FaultProxy {
  port = 0;
  /** When each forwarded connection was accepted (ms since the epoch). */
  readonly connects: number[] = [];
  private readonly pairs = new Set<Pair>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private srv: Server | undefined;
  private refusing = false;
  private shaping: Shape | null = null;
  private next = 0;

  private readonly targets: () => Target[];

  constructor(targets: () => Target[]) {
    this.targets = targets;
  }

  async start(): Promise<this> {
    this.srv = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.srv!.listen(0, '127.0.0.1', resolve));
    this.port = (this.srv.address() as { port: number }).port;
    return this;
  }

  /** Connections currently open through the proxy (a dropped one counts until both ends closed it). */
  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    if (this.refusing) { client.resetAndDestroy(); return; }
    const list = this.targets();
    if (list.length === 0) { client.resetAndDestroy(); return; }
    const shape = () => this.shaping;
    let closedBoth = 0;
    const pair: Pair = {
      client,
      server: undefined as unknown as Socket,
      up: new Lane(shape, () => pair.server.destroy()),
      down: new Lane(shape, () => client.destroy()),
      stalledUntil: 0,
    };
    const gone = () => { if (++closedBoth === 2) { pair.up.stop(); pair.down.stop(); this.pairs.delete(pair); } };
    client.on('data', (d: Buffer) => pair.up.push(d));
    client.on('close', () => { pair.up.push(null); gone(); });
    const attempt = (tries: number) => {
      const t = list[this.next++ % list.length]!;
      const server = connect(t.port, t.host);
      let connected = false;
      server.on('error', () => {});
      server.once('connect', () => {
        connected = true;
        this.connects.push(Date.now());
        pair.server = server;
        server.on('data', (d: Buffer) => pair.down.push(d));
        server.on('close', () => { pair.down.push(null); gone(); });
        pair.up.out = server;
        pair.down.out = client;
        pair.up.pump();
      });
      server.once('close', () => {
        if (connected) return;
        if (tries > 1 && !client.destroyed) attempt(tries - 1);
        else { client.resetAndDestroy(); gone(); gone(); }
      });
    };
    this.pairs.add(pair);
    attempt(list.length);
  }

  /** Resets both ends of every current connection (an RST each way). */
  rst(): void {
    for (const p of this.pairs) {
      p.up.drop();
      p.down.drop();
      p.client.resetAndDestroy();
      p.server?.resetAndDestroy();
    }
  }

  /** Silently drops every current connection: nothing passes any more, no close is ever seen. */
  drop(): void {
    for (const p of this.pairs) { p.up.drop(); p.down.drop(); }
  }

  /** Half-opens every current connection for `ms`; then it carries on with what was held. */
  stall(ms: number): void {
    for (const p of this.pairs) {
      p.up.paused = p.down.paused = true;
      p.stalledUntil = Math.max(p.stalledUntil, Date.now() + ms);
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.resume();
    }, ms);
    this.timers.add(t);
  }

  private resume(): void {
    for (const p of this.pairs) {
      // A timer may fire a few ms early by Date.now(): those within 20 ms are due.
      if (p.stalledUntil > Date.now() + 20) continue;
      p.up.paused = p.down.paused = false;
      p.up.pump();
      p.down.pump();
    }
  }

  /**
   * The client's network goes away or comes back. Away: its connections fail at once on its
   * side (the phone's interface went down: the client's socket errors) while the server hears
   * nothing (half-open until its heartbeat notices), and new connections are refused.
   */
  offline(on: boolean): void {
    this.refusing = on;
    if (!on) return;
    for (const p of this.pairs) {
      p.up.drop();
      p.down.drop();
      p.client.resetAndDestroy();
    }
  }

  /** Latency and loss on every connection from now on (`null`: none). */
  shape(s: Shape | null): void {
    this.shaping = s;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.pairs) { p.up.stop(); p.down.stop(); p.client.destroy(); p.server?.destroy(); }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.srv?.close(() => resolve()) ?? resolve());
  }
}
