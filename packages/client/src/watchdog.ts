/**
 * Detects a silent connection: `seen()` on every inbound frame; when nothing was seen for
 * `limitMs`, `onDead` runs once. One timer, re-armed lazily (not on every frame), so a busy
 * connection costs nothing but a timestamp per frame.
 */
export class Watchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSeen = 0;
  private count = 0;

  /**
   * How many proofs of life were recorded so far: a change means something arrived (a
   * timestamp would not show a frame that arrives within the same millisecond).
   */
  get seenCount(): number {
    return this.count;
  }

  /** Records proof of life. */
  seen(): void {
    this.lastSeen = Date.now();
    this.count++;
  }

  /** Starts watching (restarts if already watching); `limitMs <= 0` watches nothing. */
  start(limitMs: number, onDead: () => void): void {
    this.stop();
    if (limitMs <= 0) return;
    this.seen();
    const check = () => {
      const idle = Date.now() - this.lastSeen;
      if (idle >= limitMs) {
        this.timer = undefined;
        onDead();
        return;
      }
      this.timer = setTimeout(check, limitMs - idle);
    };
    this.timer = setTimeout(check, limitMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
