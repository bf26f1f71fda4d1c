import { CloseCode, Disconnect, type Publication } from '@switchboard/protocol';
import { admit, type Subscription } from '../connection/connection.ts';
import { EncodedOnce } from '../connection/protocol.ts';

/** A namespace's `conflation` option: the tag whose value is the key, and the interval. */
export interface ConflationOptions {
  key: string;
  intervalMs: number;
}

/**
 * Publications one subscriber may have waiting (one per key value; one per publication without
 * the key tag): past it the subscriber is a slow consumer after all (`3008`).
 */
const MAX_PENDING_KEYS = 10_000;

/**
 * A conflated channel's live delivery on this node (namespace option `conflation`): each
 * subscriber's publications wait, the latest per value of the key tag (publications without
 * the tag each stay), and go out once per `intervalMs`, in the order of their latest arrival,
 * each encoded once per wire protocol. A subscriber whose connection still holds more than
 * half of `limits.maxQueueBytes` is skipped on a tick and keeps only the latest values: a
 * slow consumer gets the latest values when it can take them instead of being closed `3008`.
 */
export class ChannelConflation {
  readonly options: ConflationOptions;
  /** Local subscriptions of the channel (the hub drops this when none is left). */
  subscribers = 0;
  /** Subscriptions with publications waiting → their latest per key, oldest key first. */
  private readonly waiting = new Map<Subscription, Map<string, Publication>>();
  private timer: NodeJS.Timeout | undefined;
  /** Gives each publication without the key tag a key of its own. */
  private untagged = 0;

  constructor(options: ConflationOptions) {
    this.options = options;
  }

  /** Holds `pub` for `sub` until the next tick, replacing the one of the same key. */
  hold(sub: Subscription, pub: Publication): void {
    const tags = pub.tags;
    const value = tags !== undefined && Object.hasOwn(tags, this.options.key) ? tags[this.options.key] : undefined;
    const key = value !== undefined ? `=${value}` : `#${this.untagged++}`;
    let pending = this.waiting.get(sub);
    if (pending === undefined) this.waiting.set(sub, (pending = new Map()));
    // Moved to the end: a key goes out in the order of its latest publication.
    pending.delete(key);
    pending.set(key, pub);
    if (pending.size > MAX_PENDING_KEYS) {
      this.waiting.delete(sub);
      sub.conn.terminate(new Disconnect(CloseCode.slow_consumer, 'slow_consumer'));
      return;
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** Sends what waits to each subscriber that has room; stops ticking when nothing waits. */
  tick(): void {
    const frames = new Map<Publication, EncodedOnce>();
    for (const [sub, pending] of this.waiting) {
      if (sub.state === 'closed') {
        this.waiting.delete(sub);
        continue;
      }
      const { conn } = sub;
      if (!conn.hasRoom(0.5)) continue;
      this.waiting.delete(sub);
      for (const pub of pending.values()) {
        if (!admit(sub, pub)) continue;
        let once = frames.get(pub);
        if (once === undefined) frames.set(pub, (once = new EncodedOnce((e) => e.publication(pub))));
        const frame = once.for(conn.encoder);
        if (frame !== undefined) conn.enqueue(frame);
      }
    }
    if (this.waiting.size === 0) this.stop();
  }

  /** No more ticks (nothing waits, or the channel has no local subscriber left). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
