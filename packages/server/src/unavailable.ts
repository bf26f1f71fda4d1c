import { ReplyError } from '@switchboard/protocol';
import type { Logger } from './logger.ts';

/** What a client or backend is told when a store or the broker failed: retrying is safe. */
const UNAVAILABLE_MESSAGE = 'storage or broker temporarily unavailable; retry';

/**
 * Store and broker failures, seen where the node meets its stores (`Node.publish`,
 * `subscribe`, `presence`, history reads, the server API's operations). Each failure
 * becomes a temporary `ReplyError('internal')` for the caller; the log gets at most one
 * warn line per `intervalMs` for the whole node, with how many failures it stands for, so
 * a Redis outage under load is a few lines a second apart, not one error per command.
 */
export class UnavailableReporter {
  private readonly log: Logger;
  private readonly intervalMs: number;
  /** Failures since the last line, with the latest one's operation and message. */
  private pending = 0;
  private lastOp = '';
  private lastError = '';
  /** Set while a window is open: failures are only counted until it ends. */
  private timer: NodeJS.Timeout | undefined;

  constructor(o: { log: Logger; intervalMs?: number }) {
    this.log = o.log;
    this.intervalMs = o.intervalMs ?? 1000;
  }

  /**
   * The temporary error to answer a failed `op` with. A `ReplyError` (a refusal the node
   * chose, or a failure already reported) is returned unchanged and not counted.
   */
  unavailable(err: unknown, op: string, message = UNAVAILABLE_MESSAGE): ReplyError {
    if (err instanceof ReplyError) return err;
    this.report(err, op);
    return new ReplyError('internal', message, true);
  }

  /** Counts a failure that answers nobody (a background unsubscribe, a session touch). */
  report(err: unknown, op: string): void {
    this.pending++;
    this.lastOp = op;
    this.lastError = err instanceof Error ? err.message : String(err);
    if (!this.timer) this.flush();
  }

  /** Writes the pending count (if any) and opens the next window; closes it when quiet. */
  private flush(): void {
    if (this.pending === 0) {
      this.timer = undefined;
      return;
    }
    this.log.warn({ failures: this.pending, op: this.lastOp, err: this.lastError }, 'storage or broker unavailable: answering temporary errors');
    this.pending = 0;
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const shared = new WeakMap<Logger, UnavailableReporter>();

/**
 * The reporter of a logger: one per logger, so the node's commands and its background work
 * (presence refreshes, the node directory, the channel index, readiness probes…) share one
 * window. During an outage the node writes one warn line a second, whatever is failing.
 */
export function unavailableReporter(log: Logger): UnavailableReporter {
  let r = shared.get(log);
  if (!r) shared.set(log, (r = new UnavailableReporter({ log })));
  return r;
}
