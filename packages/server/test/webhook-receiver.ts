import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One delivery as the receiver saw it. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
  status: number;
}

/**
 * A webhook receiver on a free loopback port (node:http). `answer(n)` gives the status of the
 * n-th request (0-based); every request is recorded with its raw body and headers.
 */
export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  answer: (n: number, body: any) => number = () => 204;
  url = '';
  private readonly server: Server;
  private waiters: Array<() => void> = [];

  constructor() {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c) => { raw += c; });
      req.on('end', () => {
        const body = JSON.parse(raw);
        const status = this.answer(this.deliveries.length, body);
        this.deliveries.push({ headers: req.headers, raw, body, status });
        res.writeHead(status).end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  /** Accepted (2xx) deliveries' bodies. */
  accepted(): any[] {
    return this.deliveries.filter((d) => d.status >= 200 && d.status < 300).map((d) => d.body);
  }

  /** Waits until `pred` holds over the deliveries so far. */
  async until(pred: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook receiver: timed out; got ${JSON.stringify(this.deliveries.map((d) => [d.status, d.body.type, d.body.user ?? d.body.channel]))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
