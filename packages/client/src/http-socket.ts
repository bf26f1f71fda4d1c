import type { EventSourceConstructor, FetchLike, ServerEventSource, TransportName, WebSocketLike } from './transport-types.ts';

/**
 * Most frames in one `POST /send` body: half the server's inbox (256 commands waiting behind
 * a running one), so one body never fills it alone.
 */
export const MAX_BODY_FRAMES = 128;
/** Most characters in one body (one frame larger than this goes alone): far below the server's `limits.maxHttpBodyBytes` (1 MiB). */
export const MAX_BODY_CHARS = 64 * 1024;

/** Takes the frames of the next body off the front of `outbox`: at least one, at most the bounds above. */
export function nextBody(outbox: string[]): string {
  let n = 0;
  let chars = 0;
  while (n < outbox.length && n < MAX_BODY_FRAMES) {
    const add = outbox[n]!.length + (n > 0 ? 1 : 0);
    if (n > 0 && chars + add > MAX_BODY_CHARS) break;
    chars += add;
    n++;
  }
  return outbox.splice(0, n).join('\n');
}



/** What an HTTP socket needs: where the endpoints are, and the platform's fetch/EventSource. */
export interface HttpSocketOptions {
  /** `http(s)://host[/prefix]`: the endpoints are `<base>/stream`, `/sse`, `/poll`, `/send`, `/close`. */
  base: string;
  /** The query string (without `?`) for the opening request: `batch=1` and whatever the URL carried. */
  query: string;
  fetch: FetchLike;
  EventSource?: EventSourceConstructor | undefined;
  /** The `open` record must arrive within this (a buffering proxy holds it back). */
  openTimeoutMs: number;
}

/**
 * A WebSocket look-alike over the HTTP transports (docs/transports.md): frames arrive as
 * lines of a stream (`http-stream`), as server-sent events (`sse`) or in long-poll answers
 * (`long-polling`); `send` POSTs them to `/send`, one request at a time, joining what
 * queued meanwhile into bodies of at most `MAX_BODY_FRAMES` frames and `MAX_BODY_CHARS`
 * characters (the server answers a body once its connection has room for more). The `open` record opens it; the `close` record closes it with the
 * server's code; anything else that ends it closes it `1006`.
 */
export class HttpSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private readonly kind: Exclude<TransportName, 'websocket'>;
  private readonly o: HttpSocketOptions;
  private readonly abort = new AbortController();
  private conn = '';
  private seq = 0;
  private outbox: string[] = [];
  private posting = false;
  private es: ServerEventSource | undefined;
  private timer: ReturnType<typeof setTimeout>;

  constructor(kind: Exclude<TransportName, 'websocket'>, o: HttpSocketOptions) {
    this.kind = kind;
    this.o = o;
    this.timer = setTimeout(() => this.end(1006, 'open_timeout'), o.openTimeoutMs);
    const url = `${o.base}/${kind === 'http-stream' ? 'stream' : kind === 'sse' ? 'sse' : 'poll'}?${o.query}`;
    if (kind === 'sse') {
      const es = (this.es = new o.EventSource!(url, { withCredentials: true }));
      es.onmessage = (ev) => this.lines(ev.data);
      es.onerror = () => this.end(1006, 'stream_ended');
    } else void this.downlink(url);
  }

  send(data: string): void {
    if (this.readyState !== 1) return;
    this.outbox.push(data);
    void this.post();
  }

  close(): void {
    if (this.readyState > 1) return;
    if (this.conn) void this.o.fetch(this.endpoint('close'), { method: 'POST', credentials: 'include', keepalive: true }).catch(() => {});
    this.end(1000, '', false);
  }

  private endpoint(path: string, extra = ''): string {
    return `${this.o.base}/${path}?conn=${encodeURIComponent(this.conn)}${extra}`;
  }

  /** Reads the stream, or polls until closed. */
  private async downlink(url: string): Promise<void> {
    const init = { signal: this.abort.signal, credentials: 'include' as const };
    try {
      let res = await this.o.fetch(url, init);
      while (this.readyState < 2) {
        if (res.status !== 200) return this.end(1006, `http_${res.status}`);
        if (this.kind === 'long-polling') {
          this.lines(await res.text());
          if (this.readyState < 2) res = await this.o.fetch(this.endpoint('poll', `&seq=${this.seq}`), init);
          continue;
        }
        const reader = res.body!.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return this.end(1006, 'stream_ended');
          buf += dec.decode(value, { stream: true });
          const cut = buf.lastIndexOf('\n');
          if (cut < 0) continue;
          this.lines(buf.slice(0, cut));
          buf = buf.slice(cut + 1);
        }
      }
    } catch {
      this.end(1006, 'network_error');
    }
  }

  /** Handles lines: transport records here, protocol frames to `onmessage`. */
  private lines(text: string): void {
    for (const l of text.split('\n')) {
      if (this.readyState > 1) return;
      if (!l.trim()) continue;
      if (l.startsWith('{"transport":')) {
        const r = JSON.parse(l) as { transport: string; conn?: string; seq?: number; code?: number; reason?: string };
        if (r.transport === 'open' && this.readyState === 0) {
          clearTimeout(this.timer);
          this.conn = r.conn!;
          this.readyState = 1;
          this.onopen?.({});
        } else if (r.transport === 'poll') this.seq = r.seq!;
        else if (r.transport === 'close') this.end(r.code!, r.reason ?? '');
        continue;
      }
      this.onmessage?.({ data: l });
    }
  }

  /** POSTs queued frames, one request at a time (so they arrive in order on any node). */
  private async post(): Promise<void> {
    if (this.posting || this.outbox.length === 0) return;
    this.posting = true;
    const body = nextBody(this.outbox);
    try {
      const r = await this.o.fetch(this.endpoint('send'), { method: 'POST', body, headers: { 'content-type': 'text/plain' }, credentials: 'include', signal: this.abort.signal });
      if (r.status !== 202) return this.end(1006, `send_http_${r.status}`);
    } catch {
      return this.end(1006, 'network_error');
    } finally {
      this.posting = false;
    }
    void this.post();
  }

  private end(code: number, reason: string, notify = true): void {
    if (this.readyState > 1) return;
    this.readyState = 3;
    clearTimeout(this.timer);
    this.abort.abort();
    this.es?.close();
    if (notify) this.onclose?.({ code, reason });
  }
}
