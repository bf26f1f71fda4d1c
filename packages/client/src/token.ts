import type { EventSourceLike, TokenProvider } from './options.ts';
import { readItem, writeItem, type StorageLike } from './storage.ts';

/** Unix seconds of a JWT's `exp`, read without verification (only to schedule a refresh). */
export function jwtExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

export interface TokenSourceOptions {
  token: string | TokenProvider | undefined;
  storageKey: string | undefined;
  storage: StorageLike | null;
  window: EventSourceLike | null;
  /** Another tab (or `set`) changed the token: a new value, or null when it was removed. */
  onChange: (token: string | null) => void;
}

/** Name of the BroadcastChannel on which tabs announce token changes. */
const tokenChannelName = (key: string) => `switchboard:token:${key}`;

/**
 * Where the client's token comes from: a fixed string, a provider function, and/or a
 * storage key that tabs share. Watches the storage key (`storage` events and a
 * BroadcastChannel) and reports changes made elsewhere.
 */
export class TokenSource {
  private readonly o: TokenSourceOptions;
  private current: string | undefined;
  private channel: BroadcastChannel | undefined;
  private readonly onStorage = (ev: { key: string | null; newValue: string | null }) => {
    const key = this.o.storageKey!;
    if (ev.key !== null && ev.key !== key) return;
    const value = ev.key === null ? null : ev.newValue; // key null: storage.clear()
    this.external(value);
  };

  constructor(o: TokenSourceOptions) {
    this.o = o;
    const stored = o.storageKey && o.storage ? readItem(o.storage, o.storageKey) : null;
    this.current = stored ?? (typeof o.token === 'string' ? o.token : undefined);
  }

  /** The token last obtained (may be undefined or expired). */
  get value(): string | undefined {
    return this.current;
  }

  /** True when a new token can be obtained without the application (provider or shared storage). */
  get renewable(): boolean {
    return typeof this.o.token === 'function' || this.o.storageKey !== undefined;
  }

  /** A token to connect with: the current one unless it expired (then the provider's). */
  async forConnect(): Promise<string | undefined> {
    const exp = this.current ? jwtExpiry(this.current) : undefined;
    const stale = this.current === undefined || (exp !== undefined && exp * 1000 <= Date.now() + 1000);
    if (stale) return this.renew();
    return this.current;
  }

  /** A fresh token: the provider's, or what shared storage holds now. */
  async renew(): Promise<string | undefined> {
    if (typeof this.o.token === 'function') {
      const t = await this.o.token();
      if (typeof t !== 'string' || t.length === 0) throw new TypeError('Switchboard: the token provider must return a non-empty string');
      this.current = t;
      // Shared with the other tabs: they find it under the key instead of asking the provider too.
      if (this.o.storageKey && this.o.storage && readItem(this.o.storage, this.o.storageKey) !== t) {
        writeItem(this.o.storage, this.o.storageKey, t);
        this.channel?.postMessage({ token: t });
      }
    } else if (this.o.storageKey && this.o.storage) {
      this.current = readItem(this.o.storage, this.o.storageKey) ?? this.current;
    }
    return this.current;
  }

  /** Forgets the current token so the next connect asks the provider (after the server refused it). */
  invalidate(): void {
    if (typeof this.o.token === 'function') this.current = undefined;
  }

  /** Sets the token here, in shared storage, and tells other tabs. `null` logs out. */
  set(token: string | null): void {
    this.current = token ?? undefined;
    if (this.o.storageKey) {
      if (this.o.storage) writeItem(this.o.storage, this.o.storageKey, token);
      this.channel?.postMessage({ token });
    }
  }

  /** Starts watching the storage key (no-op without one). */
  watch(): void {
    const key = this.o.storageKey;
    if (!key) return;
    this.o.window?.addEventListener('storage', this.onStorage);
    if (!this.channel && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(tokenChannelName(key));
      // Node: watching for another context's token must not keep the process alive.
      (this.channel as { unref?: () => void }).unref?.();
      this.channel.onmessage = (ev: MessageEvent) => {
        const t = (ev.data as { token?: unknown } | null)?.token;
        if (t === null || typeof t === 'string') this.external(t);
      };
    }
  }

  unwatch(): void {
    this.o.window?.removeEventListener('storage', this.onStorage);
    this.channel?.close();
    this.channel = undefined;
  }

  private external(value: string | null): void {
    if ((value ?? undefined) === this.current && value !== null) return;
    this.current = value ?? undefined;
    this.o.onChange(value);
  }
}
