import { readItem, writeItem, type StorageLike } from './storage.ts';

/**
 * Keeps the gateway session id (`auth_success.session`) so a reconnect, a reload or another
 * tab of the same origin resumes the same session (protocol v1: presented as `session` in
 * `auth`). In `localStorage` by default in browsers, so tabs share it; in memory elsewhere.
 */
export class SessionKeeper {
  private readonly storage: StorageLike | null;
  private readonly key: string | null;
  private memory: string | undefined;

  constructor(storage: StorageLike | null, key: string | null) {
    this.storage = storage;
    this.key = key;
  }

  get(): string | undefined {
    if (this.key === null) return undefined;
    if (this.storage) return readItem(this.storage, this.key) ?? this.memory;
    return this.memory;
  }

  set(id: string): void {
    if (this.key === null) return;
    this.memory = id;
    if (this.storage) writeItem(this.storage, this.key, id);
  }

  /** Forgets the session (logout, or the server no longer accepts it). */
  clear(): void {
    this.memory = undefined;
    if (this.storage && this.key !== null) writeItem(this.storage, this.key, null);
  }
}
