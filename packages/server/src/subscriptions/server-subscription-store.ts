/**
 * Persistent server-side subscriptions (`POST /api/subscribe` with `persist: true`): the
 * channels each user's future connections are subscribed to when they authenticate.
 *
 * Guarantees every implementation keeps (checked by `runServerSubscriptionContract`):
 * - `add` is idempotent; `remove` of an absent entry is a no-op.
 * - `list` answers a user's channels in the order they were first added, at most `max`.
 * - Users are independent; durable stores keep entries across restarts.
 */
export interface ServerSubscriptionStore {
  add(user: string, channel: string): Promise<void>;
  remove(user: string, channel: string): Promise<void>;
  /** The user's persisted channels, oldest first, at most `max`. */
  list(user: string, max: number): Promise<string[]>;
  /** Releases resources (a networked store closes its connection). */
  close(): Promise<void>;
}

/** Persistent server-side subscriptions in process memory (one node; lost on restart). */
export class MemoryServerSubscriptionStore implements ServerSubscriptionStore {
  /** user → channels in insertion order. */
  private readonly byUser = new Map<string, Set<string>>();

  async add(user: string, channel: string): Promise<void> {
    let set = this.byUser.get(user);
    if (!set) this.byUser.set(user, (set = new Set()));
    set.add(channel);
  }

  async remove(user: string, channel: string): Promise<void> {
    const set = this.byUser.get(user);
    if (!set) return;
    set.delete(channel);
    if (set.size === 0) this.byUser.delete(user);
  }

  async list(user: string, max: number): Promise<string[]> {
    return [...(this.byUser.get(user) ?? [])].slice(0, max);
  }

  async close(): Promise<void> {}
}
