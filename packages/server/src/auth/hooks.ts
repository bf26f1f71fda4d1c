import { z } from 'zod';
import { isValidUserId } from '@switchboard/protocol';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import { TRACING_OFF, traceHeaders, type Tracing } from '../tracing/tracing.ts';

/** The four backend hooks (what Centrifugo calls proxies). */
export type HookName = 'connect' | 'subscribe' | 'publish' | 'refresh';

/** Fields every hook request carries. `headers` holds only the hook's `forwardHeaders` of the upgrade request. */
export interface HookRequestBase {
  client: string;
  ip: string;
  headers: Record<string, string>;
  origin?: string;
  userAgent?: string;
}
interface ConnectHookRequest extends HookRequestBase {
  hook: 'connect';
  /** The gateway session the client asks to resume (`s_…`), if any. */
  session?: string;
  /** The name an `auth` frame gave, if any. */
  name?: string;
  /** A token the gateway does not verify itself (no JWT key configured): the backend may. */
  token?: string;
}
interface SubscribeHookRequest extends HookRequestBase { hook: 'subscribe'; user: string; info?: unknown; channel: string }
interface PublishHookRequest extends HookRequestBase { hook: 'publish'; user: string; info?: unknown; channel: string; data: unknown }
interface RefreshHookRequest extends HookRequestBase { hook: 'refresh'; user: string; info?: unknown; expiresAt?: number }
export type HookRequest = ConnectHookRequest | SubscribeHookRequest | PublishHookRequest | RefreshHookRequest;

const grants = z.array(z.string().min(1).max(255)).max(1000);
const expiresAt = z.int().positive().describe('Unix seconds');
const Deny = z.object({ allow: z.literal(false), code: z.int().min(3000).max(4999).optional(), reason: z.string().max(120).optional() });
const ConnectAllow = z.object({
  allow: z.literal(true),
  user: z.string().refine(isValidUserId, 'user must be a user id'),
  info: z.unknown().optional(),
  subscribe: grants.optional(),
  publish: grants.optional(),
  expiresAt: expiresAt.optional(),
});
const SubscribeAllow = z.object({ allow: z.literal(true) });
const PublishAllow = z.object({ allow: z.literal(true), data: z.unknown().optional() });
const RefreshAllow = z.object({ allow: z.literal(true), info: z.unknown().optional(), subscribe: grants.optional(), publish: grants.optional(), expiresAt: expiresAt.optional() });

const ALLOW = { connect: ConnectAllow, subscribe: SubscribeAllow, publish: PublishAllow, refresh: RefreshAllow } as const;

/** What each hook answers when it allows. */
interface HookAllows {
  connect: z.output<typeof ConnectAllow>;
  subscribe: z.output<typeof SubscribeAllow>;
  publish: z.output<typeof PublishAllow> & { dataReplaced: boolean };
  refresh: z.output<typeof RefreshAllow>;
}

/** A hook's verdict; `failed` (unreachable, timed out, bad answer) is resolved by the caller with `onError`. */
export type HookOutcome<N extends HookName> =
  | { kind: 'allow'; value: HookAllows[N] }
  | { kind: 'deny'; code: number | undefined; reason: string }
  | { kind: 'failed'; onError: 'deny' | 'allow' };

/** Most bytes read from a hook answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * A response body as text, read at most `max` bytes: undefined (and the rest cancelled) when
 * it is longer. A backend answering with a huge chunked body (no Content-Length) cannot make
 * the gateway buffer it.
 */
async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A reason safe for a close frame: printable ASCII, at most 120 characters. */
const cleanReason = (s: string | undefined, fallback: string) => (s ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 120) || fallback;

export interface BackendHooksOptions {
  hooks: Config['hooks'];
  log: Logger;
  fetch?: typeof fetch;
  /** Traces: each call a client span, its `traceparent` sent to the backend (docs/tracing.md). */
  tracing?: Tracing;
}

/**
 * Calls the application backend's hook URLs: POSTs the request as JSON and reads
 * `{"allow": true, …}` or `{"allow": false, "code"?, "reason"?}` (docs/hooks.md).
 * HTTP 401/403 are denials; any other non-2xx, a redirect, a body that is not a valid answer,
 * or no answer within `timeoutMs` (AbortSignal.timeout: a dead backend never hangs a
 * connection) is a failure that the hook's `onError` resolves. Never logs headers or tokens.
 */
export class BackendHooks {
  private readonly hooks: Config['hooks'];
  private readonly log: Logger;
  private readonly fetchImpl: typeof fetch;
  private readonly tracing: Tracing;

  constructor(o: BackendHooksOptions) {
    this.hooks = o.hooks;
    this.log = o.log;
    this.fetchImpl = o.fetch ?? fetch;
    this.tracing = o.tracing ?? TRACING_OFF;
  }

  /** True when the hook has a URL. */
  has(name: HookName): boolean {
    return this.hooks[name].url !== null;
  }

  /** The upgrade headers a hook may see (its `forwardHeaders`). */
  headersFor(name: HookName, all: Record<string, string>): Record<string, string> {
    const out = Object.create(null) as Record<string, string>;
    for (const h of this.hooks[name].forwardHeaders) if (Object.hasOwn(all, h)) out[h] = all[h]!;
    return out;
  }

  async call<N extends HookName>(name: N, request: HookRequest & { hook: N }): Promise<HookOutcome<N>> {
    if (!this.tracing.enabled) return this.callBackend(name, request);
    return this.tracing.span(`switchboard hook ${name}`, { kind: 'client', attributes: { 'http.request.method': 'POST', 'switchboard.hook': name } }, async (span) => {
      const outcome = await this.callBackend(name, request);
      span.setAttribute('switchboard.hook.outcome', outcome.kind);
      return outcome;
    });
  }

  private async callBackend<N extends HookName>(name: N, request: HookRequest & { hook: N }): Promise<HookOutcome<N>> {
    const hook = this.hooks[name];
    const failed = (why: string): HookOutcome<N> => {
      limited(this.log).warn({ hook: name, why, onError: hook.onError }, 'backend hook failed');
      return { kind: 'failed', onError: hook.onError };
    };
    if (hook.url === null) return failed('no url configured');
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...traceHeaders(this.tracing) },
        body: JSON.stringify(request),
        redirect: 'manual',
        signal: AbortSignal.timeout(hook.timeoutMs),
      });
      if (Number(res.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) {
        await res.body?.cancel();
        return failed('answer too large');
      }
      const capped = await readCapped(res, MAX_ANSWER_BYTES);
      if (capped === undefined) return failed('answer too large');
      text = capped;
    } catch (err) {
      const e = err as Error;
      return failed(e.name === 'TimeoutError' ? `no answer within ${hook.timeoutMs} ms` : `request failed: ${e.message}`);
    }
    if (res.status === 401 || res.status === 403) {
      return { kind: 'deny', code: undefined, reason: res.status === 401 ? 'unauthorized' : 'permission_denied' };
    }
    if (res.status < 200 || res.status > 299) return failed(`HTTP ${res.status}`);
    if (text.length > MAX_ANSWER_BYTES) return failed('answer too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return failed('answer is not JSON');
    }
    const deny = Deny.safeParse(body);
    if (deny.success) return { kind: 'deny', code: deny.data.code, reason: cleanReason(deny.data.reason, 'denied') };
    const allow = ALLOW[name].safeParse(body);
    if (!allow.success) {
      const i = allow.error.issues[0]!;
      return failed(`bad answer: ${i.path.join('.') || 'allow'}: ${i.message}`);
    }
    const value = name === 'publish'
      ? { ...allow.data, dataReplaced: typeof body === 'object' && body !== null && 'data' in body }
      : allow.data;
    return { kind: 'allow', value: value as HookAllows[N] };
  }
}

/** A connect hook refused the connection: `auth_failed` with this code, then the close frame. */
export class HookDenied extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string) {
    super(`${code} ${reason}`);
    this.name = 'HookDenied';
    this.code = code;
    this.reason = reason;
  }
}

