/**
 * A raw client of the HTTP transports (`/stream`, `/sse`, `/poll` + `/send`), written from
 * docs/transports.md with nothing but `fetch`: records every frame (batches unpacked),
 * transport records, and the close record. `base` may differ per request (a proxy's URL).
 */
export class HttpRawClient {
  readonly frames: any[] = [];
  readonly records: any[] = [];
  conn = '';
  closeCode: number | undefined;
  closeReason = '';
  /** The stream's response ended (`stream`, `sse`). */
  streamEnded = false;
  /** The HTTP status of an open that was refused. */
  refused: { status: number; body: any; headers: Headers } | undefined;
  private waiters: Array<() => void> = [];
  private abort = new AbortController();
  private seq = 0;
  /** Set while the client takes nothing (`pause`): the stream is not read, no poll is made. */
  private paused: Promise<void> | undefined;
  private unpause: (() => void) | undefined;
  readonly ready: Promise<void>;

  readonly base: string;
  readonly kind: 'stream' | 'sse' | 'poll';
  readonly query: string;
  readonly headers: Record<string, string>;

  constructor(base: string, kind: 'stream' | 'sse' | 'poll', query = '', headers: Record<string, string> = {}) {
    this.base = base;
    this.kind = kind;
    this.query = query;
    this.headers = headers;
    this.ready = this.open();
    this.ready.catch(() => {});
  }

  private async open(): Promise<void> {
    const res = await fetch(`${this.base}/${this.kind}${this.query ? `?${this.query}` : ''}`, { headers: this.headers, signal: this.abort.signal });
    if (res.status !== 200) {
      this.refused = { status: res.status, body: await res.json().catch(() => undefined), headers: res.headers };
      this.wake();
      throw new Error(`HTTP ${res.status}`);
    }
    if (this.kind === 'poll') {
      this.lines(await res.text());
      void this.pollLoop();
    } else void this.read(res);
    await this.next(() => this.conn !== '', 5000, 0, true);
  }

  private async read(res: Response): Promise<void> {
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        if (this.paused) await this.paused;
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        const cut = buf.lastIndexOf('\n');
        if (cut === -1) continue;
        this.lines(buf.slice(0, cut));
        buf = buf.slice(cut + 1);
      }
      this.streamEnded = true;
    } catch {
      // aborted
    }
    this.ended();
  }

  private async pollLoop(): Promise<void> {
    while (this.closeCode === undefined) {
      if (this.paused) await this.paused;
      let res: Response;
      try {
        res = await fetch(`${this.base}/poll?conn=${encodeURIComponent(this.conn)}&seq=${this.seq}`, { signal: this.abort.signal, headers: this.headers });
      } catch {
        return this.ended();
      }
      if (res.status !== 200) return this.ended();
      this.lines(await res.text());
    }
  }

  private ended(): void {
    this.closeCode ??= 1006;
    this.wake();
  }

  private lines(text: string): void {
    for (let l of text.split('\n')) {
      if (this.kind === 'sse') {
        if (!l.startsWith('data: ')) continue;
        l = l.slice(6);
      }
      if (!l.trim()) continue;
      const v = JSON.parse(l);
      if (!Array.isArray(v) && v.transport) {
        this.records.push(v);
        if (v.transport === 'open') this.conn = v.conn;
        if (v.transport === 'poll') this.seq = v.seq;
        if (v.transport === 'close') { this.closeCode = v.code; this.closeReason = v.reason; }
        continue;
      }
      for (const f of Array.isArray(v) ? v : [v]) {
        if (f.type === 'ping') void this.send({ type: 'pong' });
        this.frames.push(f);
      }
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** POSTs frames (each a line) to `/send`; resolves with the HTTP status. */
  async send(...frames: unknown[]): Promise<number> {
    const body = frames.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))).join('\n');
    const r = await fetch(`${this.base}/send?conn=${encodeURIComponent(this.conn)}`, { method: 'POST', body, headers: { 'content-type': 'text/plain', ...this.headers } });
    await r.arrayBuffer();
    return r.status;
  }

  /** Waits for the first frame matching `pred` from index `from` on. */
  async next(pred: (f: any) => boolean, timeoutMs = 5000, from = 0, any = false): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = any ? (pred(undefined) ? true : undefined) : this.frames.slice(from).find(pred);
      if (hit) return hit;
      if (this.refused) throw new Error(`refused ${this.refused.status}`);
      if (this.closeCode !== undefined) throw new Error(`closed ${this.closeCode} ${this.closeReason} while waiting; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Sends a command with an id and waits for its ack or error. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<any> {
    const id = frame.id ?? `r${Math.random().toString(36).slice(2)}`;
    const from = this.frames.length;
    const status = await this.send({ ...frame, id });
    if (status !== 202) throw new Error(`/send answered ${status}`);
    return this.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, timeoutMs, from);
  }

  /** Waits for the close record (or the end of the stream: 1006). */
  async waitClose(timeoutMs = 5000): Promise<number> {
    await this.next(() => this.closeCode !== undefined, timeoutMs, 0, true).catch(() => {});
    if (this.closeCode === undefined) throw new Error('no close');
    return this.closeCode;
  }

  /** Stops taking data (a client whose reader is busy): the stream is not read, no poll is made. */
  pause(): void {
    this.paused ??= new Promise((resolve) => (this.unpause = resolve));
  }

  /** Takes data again after `pause`. */
  resume(): void {
    this.unpause?.();
    this.paused = this.unpause = undefined;
  }

  /** Drops the stream (or stops polling) without a word, like a cut network. */
  drop(): void {
    this.abort.abort();
  }
}
