import type { ResolvedOptions, WebSocketLike } from './options.ts';
import { HttpSocket, type TransportName } from './http-socket.ts';
import { httpEndpoints } from './wire.ts';

/**
 * Which transport a connection attempt uses (docs/client.md#transports). An attempt starts
 * with the transport that worked last (or the first one again once `upgradeRetryMs` has
 * passed since it was chosen) and moves down the list, within the same attempt, while
 * transports fail to open.
 */
export class TransportPlan {
  private readonly o: ResolvedOptions;
  private readonly url: string;
  /** Index in `o.transports` of the transport in use (or being tried). */
  private index = 0;
  /** The next `next()` tries this index (a fallback within one attempt). */
  private fallTo: number | undefined;
  /** The transport that last authenticated, and when. */
  private working: { index: number; at: number } | undefined;

  constructor(o: ResolvedOptions, url: string) {
    this.o = o;
    this.url = url;
  }

  /** The transport in use, or being tried. */
  get current(): TransportName {
    return this.o.transports[this.index]!;
  }

  /** True while the next `next()` continues an attempt (a fallback) rather than starting one. */
  get fallingBack(): boolean {
    return this.fallTo !== undefined;
  }

  /** True when the transport being tried is the last one: no fallback after it. */
  get last(): boolean {
    return this.index === this.o.transports.length - 1;
  }

  /** Chooses the transport for the next socket and opens it. */
  next(): WebSocketLike {
    const w = this.working;
    const first = !w || (w.index > 0 && Date.now() - w.at >= this.o.upgradeRetryMs) ? 0 : w.index;
    this.index = this.fallTo ?? first;
    this.fallTo = undefined;
    const name = this.current;
    if (name === 'websocket') return new this.o.WebSocket!(this.url);
    return new HttpSocket(name, {
      ...httpEndpoints(this.url), fetch: this.o.fetch!, EventSource: this.o.EventSource,
      openTimeoutMs: this.last ? this.o.connectTimeoutMs : this.o.fallbackTimeoutMs,
    });
  }

  /** The current transport did not open: the next `next()` tries the one after it. */
  fallBack(): void {
    this.fallTo = this.index + 1;
  }

  /** The current transport authenticated: reconnects start with it. */
  worked(): void {
    this.working = { index: this.index, at: Date.now() };
  }

  /** No transport opened: the next attempt starts from the first again. */
  exhausted(): void {
    this.working = undefined;
  }
}
