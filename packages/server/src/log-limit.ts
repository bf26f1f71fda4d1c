import type { Logger } from './logger.ts';

/** Longest attacker-supplied string written to a log line (an `Origin`, a user agent, a reason). */
const MAX_LOGGED_VALUE = 200;

/**
 * An attacker-sized value cut for a log line: at most `max` characters, with how much was
 * cut, and control characters replaced (no forged log lines). Non-strings are returned as is.
 */
export function clip(value: unknown, max = MAX_LOGGED_VALUE): unknown {
  if (typeof value !== 'string') return value;
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max)}…(+${clean.length - max} chars)`;
}

interface Window {
  /** Lines written in the current window. */
  written: number;
  /** Lines suppressed in the current window. */
  suppressed: number;
  timer: NodeJS.Timeout | undefined;
}

type Level = 'info' | 'warn' | 'error';

/**
 * Logs that a client can trigger (refused handshakes, refused authentications, failed
 * commands): per message, at most `perWindow` lines every `windowMs`; the rest are counted
 * and summed up in one line (`suppressed: N`) when the window ends. String fields are
 * clipped to {@link MAX_LOGGED_VALUE} characters. A flood of 2,000 refusals a second writes
 * a dozen lines, not 2,000 (each perhaps carrying an 8 KB header).
 */
export class LimitedLog {
  private readonly log: Logger;
  private readonly perWindow: number;
  private readonly windowMs: number;
  private readonly windows = new Map<string, Window>();

  constructor(log: Logger, o: { perWindow?: number; windowMs?: number } = {}) {
    this.log = log;
    this.perWindow = o.perWindow ?? 10;
    this.windowMs = o.windowMs ?? 1000;
  }

  info(fields: Record<string, unknown>, msg: string): void {
    this.write('info', fields, msg);
  }

  warn(fields: Record<string, unknown>, msg: string): void {
    this.write('warn', fields, msg);
  }

  error(fields: Record<string, unknown>, msg: string): void {
    this.write('error', fields, msg);
  }

  private write(level: Level, fields: Record<string, unknown>, msg: string): void {
    if (!this.log.isLevelEnabled(level)) return;
    let w = this.windows.get(msg);
    if (!w) {
      w = { written: 0, suppressed: 0, timer: undefined };
      this.windows.set(msg, w);
    }
    if (w.timer === undefined) {
      const win = w;
      win.timer = setTimeout(() => this.close(level, msg, win), this.windowMs);
      win.timer.unref();
    }
    if (w.written >= this.perWindow) {
      w.suppressed++;
      return;
    }
    w.written++;
    const clipped = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(fields)) clipped[k] = clip(v);
    this.log[level](clipped, msg);
  }

  private close(level: Level, msg: string, w: Window): void {
    if (w.suppressed > 0) this.log[level]({ suppressed: w.suppressed, windowMs: this.windowMs }, `${msg} (more lines suppressed)`);
    this.windows.delete(msg);
  }

  /** Stops the window timers (shutdown); suppressed counts not yet written are dropped. */
  stop(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }
}

const shared = new WeakMap<Logger, LimitedLog>();

/** The rate-limited view of a logger: one per logger, so every caller shares its windows. */
export function limited(log: Logger): LimitedLog {
  let l = shared.get(log);
  if (!l) shared.set(log, (l = new LimitedLog(log)));
  return l;
}
