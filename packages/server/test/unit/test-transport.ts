import type { OpenConnection, Transport, UpgradeContext } from '../../src/transport/transport.ts';
import { Node } from '../../src/node.ts';
import { parseConfig, type ConfigInput } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createStores } from '../../src/stores.ts';
import type { Connection } from '../../src/connection/connection.ts';
import { V1Protocol } from '../../src/protocols/v1/protocol.ts';

/**
 * A transport that collects what the core sends (batches unpacked) and how it closed: the
 * unit layer's stand-in for a socket. `next` waits for a frame by event, never by sleeping.
 */
export class TestTransport implements Transport {
  readonly frames: any[] = [];
  closeCode: number | undefined;
  closeReason: string | undefined;
  readonly batch: boolean;
  bufferedAmount = 0;
  private waiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(o: { batch?: boolean } = {}) {
    this.batch = o.batch ?? false;
  }
  send(frame: Buffer): void {
    if (this.closeCode !== undefined) return; // closed: later sends are dropped, like a socket's
    const v = JSON.parse(frame.toString('utf8'));
    for (const f of Array.isArray(v) ? v : [v]) this.frames.push(f);
    this.wake();
  }
  sendMany(frames: readonly Buffer[]): void {
    for (const f of frames) this.send(f);
  }
  close(code: number, reason: string): void {
    if (this.closeCode !== undefined) return;
    this.closeCode = code;
    this.closeReason = reason;
    this.drain(0);
    this.wake();
  }
  /** Resolves when the test says the client took what was buffered (`drain`), or on close. */
  drained(): Promise<void> {
    if (this.bufferedAmount === 0 || this.closeCode !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
  /** The client took `bytes` (all by default) of what was buffered: `drained()` resolves. */
  drain(bytes = this.bufferedAmount): void {
    this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  /** The first frame (from index `from` on) matching `pred`; rejects when closed first. */
  async next(pred: (f: any) => boolean, from = 0): Promise<any> {
    for (;;) {
      const hit = this.frames.slice(from).find(pred);
      if (hit) return hit;
      if (this.closeCode !== undefined) throw new Error(`closed ${this.closeCode} ${this.closeReason}; frames ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  /** Resolves with the close code once closed. */
  async closed(): Promise<number> {
    while (this.closeCode === undefined) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.closeCode;
  }
}

/** A client of a unit-test gateway: its connection, its transport and a request helper. */
export interface TestClient {
  conn: Connection;
  t: TestTransport;
  /** Sends a command frame as the client would (JSON text). */
  send(frame: Record<string, unknown>): void;
  /** Sends a command with an id and resolves with its `ack` or `error`. */
  request(frame: Record<string, unknown>): Promise<any>;
}

let ids = 0;

/** A gateway node on memory stores, no sockets, no HTTP: the unit layer's gateway. */
export async function unitGateway(input: ConfigInput = {}): Promise<{
  node: Node;
  /** Opens a protocol v1 connection on a transport (what `server.ts` gives the transports). */
  openConnection: OpenConnection;
  connect(upgrade?: Partial<UpgradeContext>, o?: { batch?: boolean }): TestClient;
  close(): Promise<void>;
}> {
  const config = parseConfig({ storage: 'memory', ...input, auth: { jwtSecret: 'unit-secret-0123456789abcdef', ...input.auth } });
  const log = createLogger('silent');
  const stores = await createStores(config, log);
  const node = new Node({ config, log, stores });
  const v1 = new V1Protocol(node.services);
  await node.broker.ready;
  return {
    node,
    openConnection: (t, u) => node.openConnection(t, u, v1),
    connect(upgrade = {}, o = {}) {
      const t = new TestTransport(o);
      const conn = node.openConnection(t, { ip: '127.0.0.1', headers: {}, ...upgrade }, v1);
      const send = (frame: Record<string, unknown>) => conn.receive(Buffer.from(JSON.stringify(frame)), false);
      return {
        conn, t, send,
        async request(frame) {
          const id = frame.id ?? `u${++ids}`;
          const from = t.frames.length;
          send({ ...frame, id });
          return t.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, from);
        },
      };
    },
    async close() {
      await node.close();
      await stores.close();
    },
  };
}
