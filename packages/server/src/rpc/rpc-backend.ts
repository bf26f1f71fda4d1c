import { z } from 'zod';
import type { Logger } from '../logger.ts';

/** `hooks.rpc` as configured. */
export interface RpcConfig {
  url: string | null;
  timeoutMs: number;
  perSecond: number;
  maxInflight: number;
  maxResponseBytes: number;
}

/** What the gateway POSTs to `hooks.rpc.url` for one client `rpc` frame. */
export interface RpcRequest {
  hook: 'rpc';
  method: string;
  data: unknown;
  /** The caller: user id, client (connection) id, the user's info, and the socket's origin. */
  user: string;
  client: string;
  info?: unknown;
  ip: string;
  origin?: string;
  userAgent?: string;
}

/** The backend's answer: a result, an application error, or a failure of the call itself. */
export type RpcOutcome =
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; code: string | undefined; message: string; data?: unknown }
  | { kind: 'failed'; why: string };

const Answer = z.union([
  z.object({ result: z.unknown() }).refine((v) => 'result' in v, 'result is required'),
  z.object({
    error: z.union([
      z.string().max(1000),
      z.object({ code: z.string().min(1).max(64).optional(), message: z.string().max(1000).optional(), data: z.unknown().optional() }),
    ]),
  }),
]);

/**
 * Calls the application backend's RPC endpoint (`hooks.rpc.url`): POSTs the request as JSON
 * and reads `{"result": …}` or `{"error": {code?, message?, data?}}` (or `{"error": "text"}`).
 * A non-2xx status, a redirect, an answer over `maxResponseBytes`, one that is neither shape,
 * or no whole answer within `timeoutMs` is a failure (`backend_unavailable` for the client).
 * Failures are logged as one warn line a second at most, with a count; never the data.
 */
export class RpcBackend {
  readonly config: RpcConfig;
  private readonly log: Logger;
  private readonly fetchImpl: typeof fetch;
  private failures = 0;
  private lastWhy = '';
  private logTimer: NodeJS.Timeout | undefined;

  constructor(o: { config: RpcConfig; log: Logger; fetch?: typeof fetch }) {
    this.config = o.config;
    this.log = o.log;
    this.fetchImpl = o.fetch ?? fetch;
  }

  get enabled(): boolean {
    return this.config.url !== null;
  }

  async call(request: RpcRequest): Promise<RpcOutcome> {
    const { url, timeoutMs, maxResponseBytes } = this.config;
    if (url === null) return this.failed('no hooks.rpc.url configured');
    let status: number;
    let text: string | undefined;
    try {
      const res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await readCapped(res, maxResponseBytes);
    } catch (err) {
      const e = err as Error;
      return this.failed(e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms (hooks.rpc.timeoutMs)` : 'backend unreachable');
    }
    if (status < 200 || status > 299) return this.failed(`backend answered HTTP ${status}`);
    if (text === undefined) return this.failed(`answer larger than ${maxResponseBytes} bytes (hooks.rpc.maxResponseBytes)`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return this.failed('answer is not JSON');
    }
    const parsed = Answer.safeParse(body);
    if (!parsed.success) return this.failed('answer is neither {"result": …} nor {"error": …}');
    const a = parsed.data;
    if ('result' in a) return { kind: 'result', result: a.result };
    const e = typeof a.error === 'string' ? { message: a.error } : a.error;
    return { kind: 'error', code: e.code, message: e.message ?? 'the backend refused the call', ...(e.data !== undefined ? { data: e.data } : {}) };
  }

  close(): void {
    clearTimeout(this.logTimer);
    this.logTimer = undefined;
  }

  /** Counts a failure; one warn line a second at most. */
  private failed(why: string): RpcOutcome {
    this.failures++;
    this.lastWhy = why;
    if (!this.logTimer) this.flushLog();
    return { kind: 'failed', why };
  }

  private flushLog(): void {
    if (this.failures === 0) {
      this.logTimer = undefined;
      return;
    }
    this.log.warn({ failures: this.failures, why: this.lastWhy }, 'rpc backend failed');
    this.failures = 0;
    this.logTimer = setTimeout(() => this.flushLog(), 1000);
    this.logTimer.unref();
  }
}

/** The body as text, or undefined when it is larger than `max` bytes (reading stops there). */
async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.byteLength;
    if (n > max) return undefined; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
