import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a test hook handler answers: a JSON body (status 200 unless given), or `hang` to never answer. */
type HookAnswer = { status?: number; body?: unknown } | 'hang';
export type HookHandler = (body: any, req: IncomingMessage) => HookAnswer | Promise<HookAnswer>;

/**
 * A fake application backend on a free loopback port (node:http). `POST /<hook>` calls
 * `handlers[hook]` and records the request; `hang` keeps the request open until `close()`.
 */
export class HookBackend {
  readonly handlers: Record<string, HookHandler> = {};
  readonly requests: Array<{ hook: string; body: any }> = [];
  url = '';
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c) => { raw += c; });
      req.on('end', async () => {
        const hook = (req.url ?? '/').slice(1);
        const body = JSON.parse(raw || 'null');
        this.requests.push({ hook, body });
        const handler = this.handlers[hook];
        const answer = handler ? await handler(body, req) : { status: 404, body: { error: 'no handler' } };
        if (answer === 'hang') return;
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(text);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Requests received by one hook. */
  of(hook: string): any[] {
    return this.requests.filter((r) => r.hook === hook).map((r) => r.body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
