import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { createServer, mintToken, type ConfigInput, type ServerOptions, type SwitchboardServer } from '../src/index.ts';
import { createLogger } from '../src/logger.ts';

export const SECRET = 'test-secret-0123456789abcdef';

/**
 * Starts a gateway on a free loopback port with memory storage unless told otherwise;
 * `extra.broker` replaces the memory broker.
 */
export async function startGateway(options: ConfigInput = {}, extra: Pick<ServerOptions, 'broker'> = {}): Promise<SwitchboardServer & { wsUrl: string; url: string }> {
  const server = await createServer({
    ...extra,
    options: {
      port: 0,
      host: '127.0.0.1',
      storage: 'memory',
      logLevel: 'silent',
      ...options,
      auth: { jwtSecret: SECRET, ...options.auth },
    },
    logger: createLogger(process.env.SWITCHBOARD_TEST_LOG ?? 'silent'),
  });
  const addr = await server.listen();
  return Object.assign(server, { wsUrl: addr.wsUrl, url: addr.url });
}

export function token(sub: string, extra: Partial<Parameters<typeof mintToken>[0]> = {}): Promise<string> {
  return mintToken({ sub, secret: SECRET, ttlSec: 3600, ...extra });
}

/** A raw WebSocket client that records every frame (batches unpacked) and the close. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: any[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: Array<() => void> = [];
  readonly opened: Promise<void>;
  readonly closedP: Promise<number>;
  /** The client's TCP socket (from ws's public `upgrade` event): tests pause, cork or count bytes on it. */
  socket: Socket | undefined;

  constructor(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}) {
    this.ws = new WebSocket(url, options.protocols ?? [], options);
    this.ws.once('upgrade', (res) => {
      this.socket = res.socket as Socket;
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.opened.catch(() => {});
    this.closedP = new Promise((resolve) => this.ws.once('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
      resolve(code);
    }));
    this.ws.on('message', (data) => {
      const v = JSON.parse(data.toString());
      for (const f of Array.isArray(v) ? v : [v]) {
        if (f.type === 'ping') this.send({ type: 'pong' });
        this.frames.push(f);
      }
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Sends a frame (a string as is, anything else as JSON), once the socket is open. */
  send(frame: unknown): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    if (this.ws.readyState === WebSocket.CONNECTING) void this.opened.then(() => this.ws.send(text), () => {});
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Waits for the first recorded frame matching `pred`, looking at frames from index `from` on. */
  async next(pred: (f: any) => boolean, timeoutMs = 5000, from = 0): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.slice(from).find(pred);
      if (hit) return hit;
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
    this.send({ ...frame, id });
    return this.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, timeoutMs, from);
  }

  /** A ping/pong round trip: everything the server queued before it has arrived. */
  async roundtrip(): Promise<void> {
    const id = `rt${Math.random().toString(36).slice(2)}`;
    const from = this.frames.length;
    this.send({ type: 'ping', id });
    await this.next((f) => f.type === 'pong' && f.id === id, 5000, from);
  }

  async waitClose(timeoutMs = 5000): Promise<number> {
    return Promise.race([this.closedP, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no close')), timeoutMs))]);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Connects and authenticates with a token in the URL. */
export async function connectAuthed(wsUrl: string, sub: string, claims: Partial<Parameters<typeof mintToken>[0]> = {}): Promise<RawClient> {
  const t = await token(sub, claims);
  const c = new RawClient(`${wsUrl}?token=${t}`);
  await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  return c;
}
