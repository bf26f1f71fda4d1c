import type { ResolvedOptions, WebSocketLike } from './options.ts';
import { HttpSocket } from './http-socket.ts';
import type { TransportName } from './transport-types.ts';
import { httpEndpoints } from './wire.ts';

/**
 * Which transport a connection attempt uses (docs/client.md#transports). An attempt starts
 * with the transport that worked last (or the first one again once `upgradeRetryMs` has
 * passed since it was chosen) and moves down the list while transports fail to open.
 */
export class TransportPlan {
  private readonly o: ResolvedOptions;
  private readonly url: string;
  /** Index in `o.transports` of the transport in use (or being tried). */
  index = 0;
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

  /** Opens a socket that tries the transports in turn (one attempt); see `FallbackSocket`. */
  open(): WebSocketLike {
    const w = this.working;
    const first = !w || (w.index > 0 && Date.now() - w.at >= this.o.upgradeRetryMs) ? 0 : w.index;
    return new FallbackSocket(this, first);
  }

  /** Time the fallbacks of an attempt may take on top of `connectTimeoutMs`. */
  get budgetMs(): number {
    return (this.o.transports.length - 1 - this.index) * this.o.fallbackTimeoutMs;
  }

  /** The current transport authenticated: reconnects start with it. */
  worked(): void {
    this.working = { index: this.index, at: Date.now() };
  }

  /** No transport opened: the next attempt starts from the first again. */
  exhausted(): void {
    this.working = undefined;
  }

  /** True when `index` is the last transport: no fallback after it. */
  isLast(index: number): boolean {
    return index === this.o.transports.length - 1;
  }

  /** A socket of the transport at `index`. */
  create(index: number): WebSocketLike {
    this.index = index;
    const name = this.current;
    if (name === 'websocket') return new this.o.WebSocket!(this.url);
    return new HttpSocket(name, {
      ...httpEndpoints(this.url), fetch: this.o.fetch!, EventSource: this.o.EventSource,
      openTimeoutMs: this.isLast(index) ? this.o.connectTimeoutMs : this.o.fallbackTimeoutMs,
    });
  }

  get fallbackTimeoutMs(): number {
    return this.o.fallbackTimeoutMs;
  }
}

/**
 * One connection attempt as a single WebSocket look-alike: opens the plan's transports in
 * turn, moving on at once when one fails before it opens (a refused upgrade, a blocked
 * request) or has not opened within `fallbackTimeoutMs` (a hanging upgrade, a buffered
 * stream). Opens with the first that opens; closes only when the last one failed.
 */
class FallbackSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private readonly plan: TransportPlan;
  private inner: WebSocketLike | undefined;

  constructor(plan: TransportPlan, first: number) {
    this.plan = plan;
    this.attempt(first);
  }

  private attempt(i: number): void {
    const last = this.plan.isLast(i);
    let s: WebSocketLike;
    try {
      s = this.inner = this.plan.create(i);
    } catch (err) {
      if (!last) return this.attempt(i + 1);
      throw err;
    }
    const next = () => {
      clearTimeout(timer);
      this.forget(s);
      this.attempt(i + 1);
    };
    const timer = last ? undefined : setTimeout(() => { if (s.readyState === 0) next(); }, this.plan.fallbackTimeoutMs);
    s.onopen = (ev) => {
      clearTimeout(timer);
      this.readyState = 1;
      this.onopen?.(ev);
    };
    s.onmessage = (ev) => this.onmessage?.(ev);
    s.onerror = (ev) => this.onerror?.(ev);
    s.onclose = (ev) => {
      if (this.readyState === 0 && !last) return next();
      clearTimeout(timer);
      if (this.readyState === 0) this.plan.exhausted();
      this.readyState = 3;
      this.onclose?.(ev);
    };
  }

  /** Drops a socket without hearing from it again. */
  private forget(s: WebSocketLike): void {
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    try {
      s.close();
    } catch {
      // already closing
    }
  }

  send(data: string): void {
    this.inner?.send(data);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    const s = this.inner;
    if (!s) return;
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    const terminate = (s as { terminate?: () => void }).terminate;
    if (code !== 1000 && typeof terminate === 'function') terminate.call(s);
    else s.close(code, reason);
  }
}
