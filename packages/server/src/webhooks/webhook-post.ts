import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { WebhookRequest } from './webhook-sink.ts';

/**
 * POSTs webhook requests over kept-alive connections (node:http and node:https, one agent each,
 * at most `maxSockets` connections per receiver): the delivery loop's many small requests cost
 * a fraction of what `fetch` costs per request. Redirects are not followed (a 3xx is a failed
 * delivery); the whole exchange, body included, must finish within the timeout.
 */
export class WebhookPoster {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(o: { maxSockets: number }) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets: o.maxSockets, scheduling: 'lifo' });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: o.maxSockets, scheduling: 'lifo' });
  }

  /** Sends one request; undefined when the receiver answered 2xx, else why not (never the URL or body). */
  post(req: WebhookRequest, timeoutMs: number, extraHeaders?: Record<string, string>): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (why: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(why);
      };
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        return finish('invalid receiver URL');
      }
      const secure = url.protocol === 'https:';
      const onResponse = (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        res.on('error', () => finish('receiver unreachable'));
        res.on('end', () => finish(status >= 200 && status <= 299 ? undefined : `HTTP ${status}`));
        res.resume();
      };
      const headers = { ...req.headers, ...extraHeaders, 'content-length': String(Buffer.byteLength(req.body)) };
      const out = secure
        ? httpsRequest(url, { method: 'POST', headers, agent: this.https }, onResponse)
        : httpRequest(url, { method: 'POST', headers, agent: this.http }, onResponse);
      const timer = setTimeout(() => {
        out.destroy();
        finish(`no answer within ${timeoutMs} ms`);
      }, timeoutMs);
      out.on('error', (err: NodeJS.ErrnoException) => {
        // The socket error's code (ECONNREFUSED, ECONNRESET, …), never its message (it may name the URL).
        finish(typeof err.code === 'string' && /^[A-Z_]{1,40}$/.test(err.code) ? `receiver unreachable (${err.code})` : 'receiver unreachable');
      });
      out.end(req.body);
    });
  }

  /** Closes idle kept-alive connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
