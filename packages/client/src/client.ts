import {
  CloseCode, closeReason, decodeServerFrames, encodeFrame, isTerminalCloseCode, isValidUserId, parseChannel,
  type AckFrame, type AuthSuccessFrame, type ClientFrame, type DisconnectFrame, type ErrorFrame,
  type FrameId, type ServerFrame, type StreamPosition, type SubscribedFrame,
} from '@switchboard/protocol';
import { Backoff } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { SwitchboardError, errorOfFrame, isUnauthorizedError } from './errors.ts';
import type { ClientEvents, ClientState, HistoryResult, PresenceEntry, PublishResult } from './events.ts';
import { resolveOptions, type EventSourceLike, type ResolvedOptions, type SwitchboardOptions, type WebSocketLike } from './options.ts';
import { Requests } from './requests.ts';
import { SessionKeeper } from './session.ts';
import { MemoryStorage } from './storage.ts';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from './subscription.ts';
import { TokenSource } from './token.ts';
import { Watchdog } from './watchdog.ts';
import { checkPayload, checkRpc, historyResult, publishResult, socketUrl, tagsField } from './wire.ts';
import type { TransportName } from './transport-types.ts';
import { TransportPlan } from './transport-plan.ts';

type Command = ClientFrame extends infer F ? (F extends ClientFrame ? Omit<F, 'id'> & { id?: FrameId } : never) : never;
type Timer = ReturnType<typeof setTimeout>;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Close code the SDK reports when it drops a connection itself (no close frame was received). */
const ABNORMAL = 1006;

/**
 * A Switchboard connection that survives networks: reconnects with full-jitter backoff,
 * detects dead connections by heartbeat, refreshes its token on the live connection, resumes
 * its session, re-sends unanswered calls with the same ids, queues calls made offline, and
 * recovers subscriptions from their last seen offset.
 *
 * ```ts
 * const client = new Switchboard('wss://rt.example.com/ws', { token: () => fetchToken() });
 * const room = client.subscribe('chat:lobby');
 * room.on('message', (m) => render(m.data));
 * await client.publish('chat:lobby', { text: 'hi' });
 * ```
 */
export class Switchboard extends Emitter<ClientEvents> {
  /** The socket URL (with `?batch=1`). */
  readonly url: string;
  private readonly o: ResolvedOptions;
  private readonly tokens: TokenSource;
  private readonly sessions: SessionKeeper;
  private readonly backoff: Backoff;
  private readonly requests: Requests;
  private readonly subs = new Map<string, Subscription>();
  private readonly subAcks = new Map<FrameId, Subscription>();
  private current: ClientState = 'disconnected';
  private ws: WebSocketLike | undefined;
  private gen = 0;
  private seq = 0;
  private started = false;
  private listening = false;
  private closedBy: string | undefined;
  /** `tokenStorageKey` was empty and there is no provider: waiting for a login (`tokenChanged`) instead of failing `3501`. */
  private awaitingToken = false;
  private timers: { reconnect?: Timer; connect?: Timer; refresh?: Timer; ping?: Timer; wake?: Timer } = {};
  private readonly plan: TransportPlan;
  private readonly watchdog = new Watchdog();
  private disconnectFrame: DisconnectFrame | undefined;
  private authFailure: { code: number; reason: string } | undefined;
  private retriedAuth = false;
  private authedToken: string | undefined;
  private refreshing: Promise<void> | undefined;
  private who: { client: string; user: string } | undefined;
  private readonly writer = (f: ClientFrame) => this.write(f);
  private readonly host: SubscriptionHost = {
    unsubscribe: (sub) => this.removeSubscription(sub),
    history: (ch, o) => this.history(ch, o),
    presenceUpdate: (channel, info) => this.command({ type: 'presence_update', channel, info }),
    resubscribe: (sub, lost) => {
      if (lost) this.emit('error', { error: lost });
      if (this.current === 'connected' && this.subs.get(sub.channel) === sub && this.write({ type: 'unsubscribe', channel: sub.channel })) this.sendSubscribe(sub);
    },
  };
  /** The page's document, when the event source is a browser window. */
  private document(): (EventSourceLike & { visibilityState?: string }) | undefined {
    const doc = (this.o.window as { document?: EventSourceLike & { visibilityState?: string } } | null)?.document;
    return doc && typeof doc.addEventListener === 'function' ? doc : undefined;
  }

  /**
   * A page that becomes visible again may have slept with a socket that died meanwhile:
   * probe it with a ping and drop it at once when nothing answers within `wakeProbeMs`,
   * rather than waiting out the heartbeat.
   */
  private readonly onVisibility = () => {
    if (this.document()?.visibilityState !== 'visible' || this.state !== 'connected' || this.o.wakeProbeMs <= 0) return;
    const before = this.watchdog.seenCount;
    clearTimeout(this.timers.wake);
    this.write({ type: 'ping' });
    this.timers.wake = setTimeout(() => {
      if (this.state === 'connected' && this.watchdog.seenCount === before) this.drop('heartbeat_timeout');
    }, this.o.wakeProbeMs);
  };

  private readonly onOnline = () => { if (this.current === 'disconnected') void this.open(); };
  private readonly onOffline = () => { if (this.current === 'connected' || this.current === 'connecting') this.drop('network_offline'); };

  constructor(url: string, options: SwitchboardOptions = {}) {
    super();
    this.url = socketUrl(url);
    this.o = resolveOptions(options);
    this.plan = new TransportPlan(this.o, this.url);
    if (this.o.transports.length === 0) throw new TypeError('Switchboard: no transport available here: pass options.WebSocket (e.g. the "ws" package\'s WebSocket) or options.fetch');
    const storage = this.o.storage ?? new MemoryStorage();
    this.sessions = new SessionKeeper(storage, this.o.sessionStorageKey);
    this.tokens = new TokenSource({
      token: this.o.token, storageKey: this.o.tokenStorageKey, storage, window: this.o.window,
      onChange: (t) => this.tokenChanged(t),
    });
    this.backoff = new Backoff(this.o.backoff);
    this.requests = new Requests(this.o.queueMax, this.o.overflow);
    if (this.o.autoConnect) queueMicrotask(() => { if (!this.started) this.connect(); });
  }

  /** The current state. */
  get state(): ClientState { return this.current; }

  /** The authenticated user (from the last `auth_success`). */
  get user(): string | undefined { return this.who?.user; }

  /** The transport in use, or being tried: `websocket`, `http-stream`, `sse` or `long-polling`. */
  get transport(): TransportName { return this.plan.current; }

  /** This connection's client id (`c_…`). */
  get clientId(): string | undefined { return this.who?.client; }

  /** Calls waiting in the offline queue. */
  get queued(): number { return this.requests.queued; }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Connects (or reconnects now, skipping a scheduled delay). Also undoes `close()`. */
  connect(): void {
    this.started = true;
    if (this.current === 'connecting' || this.current === 'connected') return;
    this.closedBy = undefined;
    this.listen();
    this.backoff.reset();
    void this.open();
  }

  /** Closes for good: no reconnect; pending and queued calls are rejected (`closed`). */
  close(): void {
    this.started = true;
    this.unlisten();
    this.tokens.unwatch();
    if (this.current !== 'closed') this.finish(1000, 'client_closed');
  }

  /**
   * Replaces the token: presented on the live connection with `refresh` (no reconnect),
   * written to `tokenStorageKey` for other tabs. `null` logs out (closes, forgets the session).
   */
  setToken(token: string | null): void {
    this.tokens.set(token);
    this.tokenChanged(token);
  }

  /** Gets a fresh token (provider or shared storage) and presents it on the live connection. */
  refreshToken(): Promise<void> {
    this.refreshing ??= this.renewToken().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private listen(): void {
    this.tokens.watch();
    if (this.listening) return;
    this.listening = true;
    this.o.window?.addEventListener('online', this.onOnline);
    this.o.window?.addEventListener('offline', this.onOffline);
    this.document()?.addEventListener('visibilitychange', this.onVisibility);
  }

  private unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.o.window?.removeEventListener('online', this.onOnline);
    this.o.window?.removeEventListener('offline', this.onOffline);
    this.document()?.removeEventListener('visibilitychange', this.onVisibility);
  }

  private setState(next: ClientState): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.emit('state', { state: next, previous });
  }

  /** Opens a socket and sends `auth` (token in the first frame, never in the URL). */
  private async open(): Promise<void> {
    clearTimeout(this.timers.reconnect);
    this.awaitingToken = false;
    if (!this.o.isOnline()) return this.setState('disconnected'); // the `online` event resumes
    const gen = ++this.gen;
    this.authFailure = undefined;
    this.disconnectFrame = undefined;
    this.setState('connecting');
    this.emit('connecting', { attempt: this.backoff.attempts });
    let token: string | undefined;
    try {
      token = await this.tokens.forConnect();
    } catch (err) {
      if (gen !== this.gen) return;
      if (isUnauthorizedError(err)) return this.finish(CloseCode.invalid_token, 'unauthorized');
      this.emit('error', { error: err as Error });
      return this.lost(ABNORMAL, 'token_provider_failed');
    }
    if (gen !== this.gen) return;
    if (token === undefined && this.o.tokenStorageKey !== undefined && this.o.name === undefined) {
      // Nobody is logged in yet: an auth without credentials would only be refused (3501).
      this.awaitingToken = true;
      this.setState('disconnected');
      this.emit('disconnected', { code: 1000, reason: 'no_token', reconnectInMs: null });
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = this.plan.open(); // tries the transports in turn until one opens
    } catch (err) {
      this.emit('error', { error: err as Error });
      return this.lost(ABNORMAL, 'connection_failed');
    }
    this.ws = ws;
    this.authedToken = token;
    this.timers.connect = setTimeout(() => this.drop('connect_timeout'), this.o.connectTimeoutMs + this.plan.budgetMs);
    ws.onopen = () => {
      if (gen !== this.gen) return;
      const session = this.sessions.get();
      this.write({
        type: 'auth',
        ...(token !== undefined ? { token } : this.o.name !== undefined ? { name: this.o.name } : {}),
        ...(session !== undefined ? { session } : {}),
      });
    };
    ws.onmessage = (ev) => { if (gen === this.gen) this.receive(ev.data); };
    ws.onclose = (ev) => { if (gen === this.gen) this.socketClosed(ev.code, ev.reason); };
    ws.onerror = () => {}; // a close event follows
  }

  private write(frame: ClientFrame): boolean {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(encodeFrame(frame));
    return true;
  }

  /** Forgets the socket (closing it when still open) and the timers of this connection. */
  private detach(code = 1000, reason = ''): void {
    this.gen++;
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.refresh);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.wake);
    this.watchdog.stop();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= 1) {
      const terminate = (ws as { terminate?: () => void }).terminate;
      try {
        if (code !== 1000 && typeof terminate === 'function') terminate.call(ws);
        else ws.close(code, reason.slice(0, 100));
      } catch {
        // already closing
      }
    }
    this.subAcks.clear();
    for (const sub of [...this.subs.values()]) sub.server && !sub.persistent ? this.serverUnsubscribed(sub.channel, 'connection_lost') : sub.handleLost();
  }

  /** The SDK gives up on a connection it considers dead, and reconnects. */
  private drop(reason: string): void {
    this.detach(4000, reason);
    this.lost(ABNORMAL, reason);
  }

  private socketClosed(code: number, reason: string): void {
    const d = this.disconnectFrame;
    if (d && (code === 1005 || code === ABNORMAL || code === d.code)) {
      code = d.code;
      reason = d.reason;
    }
    reason ||= closeReason(code) ?? '';
    // A live connection whose token the server revoked (`3502 token_revoked`) is refused like
    // an authentication with it: a fresh token from the provider may still be good.
    const f = this.authFailure ?? (d?.reason === 'token_revoked' ? { code: d.code, reason: d.reason } : undefined);
    this.detach();
    if (f && !this.retriedAuth) {
      // One fresh try: a stored session of another user, or a token that just expired or was revoked.
      const renewed = f.reason === 'token_expired' || f.reason === 'invalid_token' || f.reason === 'token_revoked';
      const stale = f.reason === 'session_rejected' || (renewed && this.tokens.renewable);
      if (stale) {
        this.retriedAuth = true;
        if (f.reason === 'session_rejected') this.sessions.clear();
        else this.tokens.invalidate();
        return this.lost(f.code, f.reason, 0, true);
      }
    }
    this.lost(code, reason, d?.reconnectAfterMs);
  }

  /** The connection is gone: stop for a terminal code, else schedule a reconnect. */
  private lost(code: number, reason: string, afterMs?: number, retry = false): void {
    if (this.current === 'closed') return;
    // 3504 after auth_failed `session_limit` is a refusal (the new login was not admitted), not a kick.
    if (!retry && code === CloseCode.session_replaced && reason !== 'session_limit') {
      this.emit('kicked', { code, reason });
      return this.finish(code, reason);
    }
    if (!retry && isTerminalCloseCode(code)) return this.finish(code, reason);
    if (this.backoff.attempts >= this.o.maxAttempts) return this.finish(code, 'max_attempts');
    const jittered = this.backoff.next();
    const delay = afterMs ?? jittered;
    const online = this.o.isOnline();
    this.setState('disconnected');
    this.emit('disconnected', { code, reason, reconnectInMs: online ? delay : null });
    if (online && this.current === 'disconnected') this.timers.reconnect = setTimeout(() => void this.open(), delay);
  }

  /** Stops for good. Token watching continues (a new login in another tab reconnects) unless `close()` was called. */
  private finish(code: number, reason: string): void {
    clearTimeout(this.timers.reconnect);
    this.detach(1000, reason);
    this.closedBy = reason;
    for (const sub of this.subs.values()) sub.end('closed');
    this.requests.rejectAll((id) => new SwitchboardError('closed', `client closed (${code} ${reason}) before the call was answered`, { id }));
    this.setState('closed');
    this.emit('closed', { code, reason });
  }

  // ---- inbound -----------------------------------------------------------------------

  private receive(data: unknown): void {
    this.watchdog.seen();
    if (typeof data !== 'string') return;
    let frames: ServerFrame[];
    try {
      frames = decodeServerFrames(data);
    } catch {
      this.emit('error', { error: new SwitchboardError('bad_request', 'the server sent a frame that is not JSON') });
      return;
    }
    const gen = this.gen;
    for (const f of frames) {
      if (gen !== this.gen) return; // a frame ended this connection
      this.handle(f);
    }
  }

  private handle(f: ServerFrame): void {
    switch (f.type) {
      case 'auth_success': return this.authenticated(f);
      case 'auth_failed': this.authFailure = { code: f.code, reason: f.reason }; return;
      case 'ack':
      case 'error': return this.answer(f);
      case 'message': {
        const { type: _type, ...pub } = f;
        const sub = this.subs.get(f.channel);
        if (sub) sub.handleMessage(pub);
        else if (!pub.delta) this.emit('message', pub); // a delta without its subscription cannot be applied
        return;
      }
      case 'join': case 'leave': case 'update': this.subs.get(f.channel)?.handlePresence(f); return;
      case 'online': this.emit('online', { user: f.user }); return;
      case 'offline': this.emit('offline', { user: f.user }); return;
      case 'ping': this.write({ type: 'pong' }); return;
      case 'pong': return;
      case 'token_expiring': void this.refreshToken(); return;
      case 'disconnect': this.disconnectFrame = f; return;
      case 'subscribed': return this.serverSubscribed(f);
      case 'unsubscribed': return this.serverUnsubscribed(f.channel, 'server');
      default: {
        const never: never = f;
        this.emit('error', { error: new SwitchboardError('bad_request', `unknown frame type ${JSON.stringify((never as { type: unknown }).type)}`) });
      }
    }
  }

  private authenticated(f: AuthSuccessFrame): void {
    clearTimeout(this.timers.connect);
    this.backoff.reset();
    this.retriedAuth = false;
    this.plan.worked();
    this.sessions.set(f.session);
    this.who = { client: f.client, user: f.user };
    // Silence longer than the ping interval plus grace: a dead connection. A server that does
    // not ping is pinged by the client instead, so a half-open socket is still noticed.
    const every = f.ping > 0 ? f.ping * 1000 : this.o.clientPingMs;
    if (every > 0) this.watchdog.start(every + this.o.heartbeatGraceMs, () => this.drop('heartbeat_timeout'));
    if (f.ping === 0 && every > 0) this.timers.ping = setInterval(() => this.write({ type: 'ping' }), every);
    this.scheduleRefresh(f.expiresAt);
    for (const sub of this.subs.values()) if (!sub.server) this.sendSubscribe(sub);
    this.requests.resend(this.writer);
    this.setState('connected');
    this.emit('connected', { client: f.client, user: f.user, transport: this.transport, resumed: f.resumed, permissions: f.permissions, ...(f.expiresAt !== undefined ? { expiresAt: f.expiresAt } : {}) });
    if (this.tokens.value !== undefined && this.tokens.value !== this.authedToken) void this.present(this.tokens.value);
  }

  private answer(f: AckFrame | ErrorFrame): void {
    const sub = f.id !== undefined ? this.subAcks.get(f.id) : undefined;
    if (sub) {
      this.subAcks.delete(f.id!);
      if (this.subs.get(sub.channel) !== sub) return; // unsubscribed meanwhile
      if (f.type === 'ack') return sub.handleAck(f);
      if (sub.state === 'subscribed') return; // the backend subscribed it meanwhile (`subscribed` frame)
      const err = errorOfFrame(f);
      if (!err.temporary) {
        this.subs.delete(sub.channel);
        return sub.handleError(err);
      }
      const gen = this.gen;
      setTimeout(() => { if (gen === this.gen && this.subs.get(sub.channel) === sub) this.sendSubscribe(sub); }, 500 + Math.random() * 1500);
      return;
    }
    if (this.requests.settle(f)) return;
    if (f.type !== 'error') return;
    this.emit('error', { error: errorOfFrame(f) });
    // `auth` (no id) refused for now (e.g. the gateway's Redis fails over): reconnect with
    // backoff rather than wait into the gateway's auth timeout (terminal `3501`).
    if (f.id === undefined && f.temporary && this.current === 'connecting') this.drop('auth_unavailable');
  }

  // ---- token -------------------------------------------------------------------------

  private scheduleRefresh(expiresAt: number | undefined): void {
    clearTimeout(this.timers.refresh);
    if (expiresAt === undefined || !(this.tokens.renewable || this.hookAuth)) return;
    const left = expiresAt * 1000 - Date.now();
    const delay = Math.max(0, left - Math.min(this.o.refreshMarginMs, left / 2));
    this.timers.refresh = delay > MAX_TIMER_MS
      ? setTimeout(() => this.scheduleRefresh(expiresAt), MAX_TIMER_MS)
      : setTimeout(() => void this.refreshToken(), delay);
  }

  /** No token and no name: the gateway's connect hook authenticated us (e.g. by cookie); its refresh hook extends us. */
  private get hookAuth(): boolean {
    return this.o.token === undefined && this.o.tokenStorageKey === undefined && this.o.name === undefined;
  }

  private async renewToken(): Promise<void> {
    if (this.hookAuth) return this.present(undefined);
    let token: string | undefined;
    try {
      token = await this.tokens.renew();
    } catch (err) {
      if (isUnauthorizedError(err)) return this.finish(CloseCode.invalid_token, 'unauthorized');
      this.emit('error', { error: err as Error });
      return;
    }
    await this.present(token);
  }

  /**
   * Presents a token on the live connection with `refresh`; a token of another user reconnects
   * as that user. Without a token (hook authentication) a bare `refresh` asks the refresh hook.
   */
  private async present(token: string | undefined): Promise<void> {
    if (this.current !== 'connected') return;
    if (token === undefined ? !this.hookAuth : token === this.authedToken) return;
    const gen = this.gen;
    try {
      const ack = await this.requests.submit({ type: 'refresh', id: ++this.seq, ...(token !== undefined ? { token } : {}) }, this.writer);
      if (gen !== this.gen) return;
      this.authedToken = token;
      const expiresAt = typeof ack.expiresAt === 'number' ? ack.expiresAt : undefined;
      this.scheduleRefresh(expiresAt);
      this.emit('token', expiresAt !== undefined ? { expiresAt } : {});
    } catch (err) {
      if (gen !== this.gen || (err instanceof SwitchboardError && err.code === 'closed')) return;
      if (err instanceof SwitchboardError && err.code === 'permission_denied') {
        this.sessions.clear(); // the new token is another user's: start over as that user
        return this.drop('user_changed');
      }
      this.emit('error', { error: err as Error });
    }
  }

  private tokenChanged(token: string | null): void {
    if (token !== null && this.awaitingToken && this.current === 'disconnected') {
      this.awaitingToken = false;
      void this.open(); // the login we were waiting for
      return;
    }
    if (token === null) {
      this.sessions.clear();
      if (this.current !== 'closed') this.finish(1000, 'logout');
      return;
    }
    if (this.current === 'closed') {
      if (this.closedBy !== 'client_closed') this.connect(); // logged in again elsewhere
      return;
    }
    void this.present(token);
  }

  // ---- subscriptions -----------------------------------------------------------------

  /**
   * Subscribes to a channel (or returns the existing subscription). Kept across reconnects,
   * recovered from the last seen offset. Throws TypeError for an invalid channel name.
   * `T` types its messages' `data` (`subscribe<ChatMessage>(…)`; the app's word, not checked).
   */
  subscribe<T = unknown>(channel: string, options: SubscribeOptions = {}): Subscription<T> {
    const parsed = parseChannel(channel);
    if (typeof parsed === 'string') throw new TypeError(`Switchboard: ${parsed}`);
    const existing = this.subs.get(channel);
    if (existing) return existing as Subscription<T>;
    const sub = new Subscription(channel, this.host, options);
    this.subs.set(channel, sub);
    if (this.current === 'connected') this.sendSubscribe(sub);
    return sub as Subscription<T>;
  }

  /** The subscription to a channel, if any. */
  getSubscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /** Called by `Subscription.unsubscribe()`. */
  private removeSubscription(sub: Subscription): void {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    if (this.current === 'connected') this.requests.submit({ type: 'unsubscribe', id: ++this.seq, channel: sub.channel }, this.writer).catch(() => {});
  }

  /** `subscribed`/`unsubscribed` (or a server-side subscription ended with its connection). */
  private serverSubscribed(f: SubscribedFrame): void {
    const sub = this.subs.get(f.channel) ?? new Subscription(f.channel, this.host, {}, true);
    this.subs.set(f.channel, sub);
    sub.handleServerSubscribed(f);
    this.emit('subscribed', { channel: f.channel, subscription: sub, persist: f.persist });
  }

  private serverUnsubscribed(channel: string, reason: string): void {
    const sub = this.subs.get(channel);
    if (!sub) return;
    this.subs.delete(channel);
    sub.end(reason);
    this.emit('unsubscribed', { channel, subscription: sub, reason });
  }

  private sendSubscribe(sub: Subscription): void {
    const id = `s${++this.seq}`;
    this.subAcks.set(id, sub);
    this.write(sub.subscribeFrame(id));
  }

  // ---- commands ----------------------------------------------------------------------

  /** Sends a command now, or queues it until connected. Rejects at once when closed. */
  private command(frame: Command): Promise<AckFrame> {
    if (this.current === 'closed') return Promise.reject(new SwitchboardError('closed', 'client is closed: call connect() first'));
    const full = { ...frame, id: frame.id ?? ++this.seq } as ClientFrame & { id: FrameId };
    return this.requests.submit(full, this.current === 'connected' ? this.writer : undefined);
  }

  /**
   * Publishes to a channel. Resolves once the gateway stored it (with its offset on channels
   * with history); rejects with the server's error. The call's `id` (random unless given) is
   * its idempotency key: re-sent after a reconnect, it is stored once.
   */
  async publish(channel: string, data: unknown, options: { id?: string; tags?: Record<string, string> } = {}): Promise<PublishResult> {
    const parsed = parseChannel(channel);
    if (typeof parsed === 'string') throw new TypeError(`Switchboard: ${parsed}`);
    const id = checkPayload(data, options.id);
    return publishResult(id, await this.command({ type: 'publish', id, channel, data, ...tagsField(options.tags) }));
  }

  /** Sends a private message to a user (their personal channel `#user`); resolves like `publish`. */
  async send(user: string, data: unknown, options: { id?: string } = {}): Promise<PublishResult> {
    if (!isValidUserId(user)) throw new TypeError('Switchboard: send: user must be a user id (1-128 of A-Z a-z 0-9 _ . @ = + -)');
    const id = checkPayload(data, options.id);
    return publishResult(id, await this.command({ type: 'send', id, to: user, data }));
  }

  /**
   * Calls `method` on the application backend (`hooks.rpc`); resolves with its `result`. Rejects
   * with `rpc_error` (`err.details`: the backend's `{code?, data?}`), `backend_unavailable`, … (docs/client.md).
   */
  async rpc<T = unknown>(method: string, data: unknown = null): Promise<T> {
    checkRpc(method, data);
    const ack = await this.command({ type: 'rpc', method, data });
    return ack.result as T;
  }

  /** Who is subscribed to a channel: user → entry. */
  async presence(channel: string): Promise<Record<string, PresenceEntry>> {
    const ack = await this.command({ type: 'presence', channel });
    return (ack.presence ?? {}) as Record<string, PresenceEntry>;
  }

  /** Pages through a channel's history (oldest first after `since`, or newest first with `reverse`); `more`: continue from the last. */
  async history(channel: string, options: { since?: StreamPosition; limit?: number; reverse?: boolean; filter?: string } = {}): Promise<HistoryResult> {
    return historyResult(await this.command({ type: 'history', channel, ...options }));
  }
}
