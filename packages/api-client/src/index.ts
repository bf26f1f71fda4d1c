import type {
  AccessResult, BlockOptions, BroadcastResult, ChannelsResult, DisconnectOptions, HistoryOptions, HistoryResult, InfoResult,
  PresenceResult, PublishResult, PushBody, PushResult,
} from './types.ts';

export type * from './types.ts';

/** Options of `SwitchboardApi`. */
export interface SwitchboardApiOptions {
  /** The gateway's HTTP base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** One of the gateway's `apiKeys`. Sent as `Authorization: apikey <key>`. */
  apiKey: string;
  /** Give up on a request after this long (default 10 s). */
  timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** An error answer of the server API (or a network failure, with `status` 0). */
export class SwitchboardApiError extends Error {
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** Stable code: `bad_request`, `unauthorized`, `unknown_channel`, `not_available`, `limit_exceeded`, `internal`, … */
  readonly code: string;
  /** The request field that was wrong, on 400. */
  readonly field: string | undefined;
  /** True when retrying later may succeed (503, network failures). */
  readonly temporary: boolean;
  constructor(status: number, code: string, message: string, field?: string, temporary = false) {
    super(message);
    this.name = 'SwitchboardApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.temporary = temporary;
  }
}

/**
 * A typed client of the Switchboard server API (`POST /api/<method>`). No dependencies:
 * uses the global `fetch`. Every method resolves with the answer or rejects with
 * `SwitchboardApiError`. Retrying a `publish`/`send` that failed temporarily is safe when
 * it carries an `idempotencyKey`.
 */
export class SwitchboardApi {
  private readonly base: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(o: SwitchboardApiOptions) {
    this.base = o.url.replace(/\/+$/, '');
    this.apiKey = o.apiKey;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.fetchImpl = o.fetch ?? fetch;
  }

  /** Publishes to a channel; resolves once stored (history namespaces). */
  publish(channel: string, data: unknown, o: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    return this.call('publish', { channel, data, ...o });
  }

  /** Publishes the same data to several channels. */
  broadcast(channels: string[], data: unknown, o: { idempotencyKey?: string } = {}): Promise<BroadcastResult> {
    return this.call('broadcast', { channels, data, ...o });
  }

  /** Sends to a user's personal channel `#<user>`. */
  send(user: string, data: unknown, o: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    return this.call('send', { user, data, ...o });
  }

  /** Closes a user's connections (or one session's). */
  async disconnect(user: string, o: DisconnectOptions = {}): Promise<void> {
    await this.call('disconnect', { user, ...o });
  }

  /**
   * Subscribes every live connection of a user to a channel (each gets a `subscribed` frame).
   * `persist: true` also subscribes the user's future connections, until `unsubscribe`.
   */
  async subscribe(user: string, channel: string, o: { persist?: boolean } = {}): Promise<void> {
    await this.call('subscribe', { user, channel, ...o });
  }

  /**
   * Removes a user's connections from a channel (each gets an `unsubscribed` frame) and
   * forgets a persistent server-side subscription.
   */
  async unsubscribe(user: string, channel: string): Promise<void> {
    await this.call('unsubscribe', { user, channel });
  }

  /**
   * Blocks a user on every node: its connections close `3502 blocked` and new ones are refused
   * until `unblock` or the ttl (seconds) ends.
   */
  async block(user: string, o: BlockOptions = {}): Promise<void> {
    await this.call('block', { user, ...o });
  }

  /** Lifts a user's block. */
  async unblock(user: string): Promise<void> {
    await this.call('unblock', { user });
  }

  /**
   * Refuses the user's tokens issued before `before` (Unix seconds; default now); live
   * connections that used one close `3502 token_revoked`. A freshly issued token works.
   */
  async revoke(user: string, o: { before?: number } = {}): Promise<void> {
    await this.call('revoke', { user, ...o });
  }

  /** Whether a user is blocked, and since when its tokens are revoked. */
  access(user: string): Promise<AccessResult> {
    return this.call('access', { user });
  }

  presence(channel: string): Promise<PresenceResult> {
    return this.call('presence', { channel });
  }

  history(channel: string, o: HistoryOptions = {}): Promise<HistoryResult> {
    return this.call('history', { channel, ...o });
  }

  /** Channels with subscribers; `pattern` may use `*`. */
  channels(pattern?: string): Promise<ChannelsResult> {
    return this.call('channels', pattern !== undefined ? { pattern } : {});
  }

  info(): Promise<InfoResult> {
    return this.call('info', {});
  }

  /** The seed's push shape: `single` → send, `room` → publish, `all` → every connection. */
  push(body: PushBody): Promise<PushResult> {
    return this.call('push', body);
  }

  /** Any method by name (for methods newer than this client). */
  async call<T = unknown>(method: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}/api/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `apikey ${this.apiKey}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new SwitchboardApiError(0, 'network', `${method}: ${(err as Error).message}`, undefined, true);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new SwitchboardApiError(res.status, 'bad_response', `${method}: HTTP ${res.status} with a body that is not JSON`, undefined, res.status >= 500);
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string; field?: string; temporary?: boolean } }).error ?? {};
      throw new SwitchboardApiError(res.status, e.code ?? 'http_error', e.message ?? `HTTP ${res.status}`, e.field, e.temporary ?? res.status === 503);
    }
    return parsed as T;
  }
}
