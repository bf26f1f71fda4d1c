import WebSocket from 'ws';

/** A lean protocol client for the soak: JSON frames in, a callback per frame; no frame is kept. */
export class SoakClient {
  ws!: WebSocket;
  private pending = new Map<string, (f: any) => void>();
  private seq = 0;
  onFrame: (f: any) => void = () => {};
  onClose: (code: number) => void = () => {};

  async open(url: string): Promise<void> {
    this.ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      this.ws.on('message', (d) => {
        const v = JSON.parse(d.toString());
        for (const f of Array.isArray(v) ? v : [v]) {
          if (f.type === 'auth_success') resolve();
          else if (f.type === 'auth_failed') reject(new Error(f.reason));
          else if (f.type === 'ping') this.ws.send('{"type":"pong"}');
          else if ((f.type === 'ack' || f.type === 'error') && this.pending.has(String(f.id))) {
            this.pending.get(String(f.id))!(f);
            this.pending.delete(String(f.id));
          } else this.onFrame(f);
        }
      });
      let cause = '';
      this.ws.on('unexpected-response', (_req, res) => { cause = `HTTP ${res.statusCode}`; res.resume(); });
      this.ws.on('close', (code) => {
        reject(new Error(`closed ${code}${cause ? ` (${cause})` : ''}`));
        for (const p of this.pending.values()) p({ type: 'error', code: 'closed' });
        this.pending.clear();
        this.onClose(code);
      });
      this.ws.on('error', (err) => { cause ||= (err as NodeJS.ErrnoException).code ?? err.message; });
    });
  }

  /** Sends a command; resolves with its `ack` or `error` (`{type: 'error', code: 'closed'}` when the socket closes first). */
  request(frame: Record<string, unknown>): Promise<any> {
    const id = frame.id !== undefined ? String(frame.id) : `q${++this.seq}`;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new Error('not open'));
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A stream position: the `epoch` and `offset` of the last message received (docs/protocol.md). */
export interface Position { epoch: string; offset: number }

/**
 * What one long-lived subscriber holds of one channel: the offsets it received (live or
 * recovered), its position by the documented rule, the ranges the gateway declared lost to it
 * (`recovered: false`), and how many offsets arrived twice.
 */
export class ChannelState {
  /** Everything up to `upTo` was received, plus the offsets in `above`. */
  private upTo = 0;
  private readonly above = new Set<number>();
  /** Offset ranges (inclusive) that a `recovered: false` declared not recoverable. */
  readonly gaps: Array<[number, number]> = [];
  position: Position | undefined;
  duplicates = 0;

  /** A publication received (a live `message`, or one replayed in a recovering ack or a `history` page). */
  add(epoch: string, offset: number): void {
    if (this.has(offset)) this.duplicates++;
    else {
      this.above.add(offset);
      while (this.above.delete(this.upTo + 1)) this.upTo++;
    }
    this.advance({ epoch, offset });
  }

  /** Moves the position forward (never back within one epoch). */
  advance(p: Position): void {
    if (!this.position || this.position.epoch !== p.epoch || p.offset > this.position.offset) this.position = p;
  }

  /**
   * A `recovered: false` ack to a subscribe from position `asked`: what lay between it and the
   * stream's head is declared lost. (Live messages after the head may already have been
   * taken: they come in the same batch as the ack, and are handled before whoever awaits it.)
   */
  declareGap(asked: Position, head: Position): void {
    const from = asked.epoch === head.epoch ? asked.offset + 1 : 1;
    if (head.offset >= from) this.gaps.push([from, head.offset]);
    this.advance(head);
  }

  has(offset: number): boolean {
    return offset <= this.upTo || this.above.has(offset);
  }

  /** Received, or declared lost by a `recovered: false`. */
  accounted(offset: number): boolean {
    return this.has(offset) || this.gaps.some(([a, b]) => offset >= a && offset <= b);
  }
}
