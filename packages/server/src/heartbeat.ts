import { CloseCode, Disconnect } from '@switchboard/protocol';
import type { Config } from './config.ts';
import { isAuthenticated, type Connection } from './connection/connection.ts';

/** What the heartbeat watches: the node's configuration and every open connection. */
export interface HeartbeatHost {
  readonly config: Config;
  readonly connections: Iterable<Connection>;
}

/**
 * One timer for every connection of a node: server pings (spread over the interval so they
 * do not all leave at once), `3012 no_pong` when a ping goes unanswered, the auth timeout,
 * and token expiry (`token_expiring`, then `3005 token_expired`).
 */
export class Heartbeat {
  private readonly node: HeartbeatHost;
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(node: HeartbeatHost) {
    this.node = node;
    const { intervalMs, timeoutMs } = node.config.heartbeat;
    const finest = Math.min(1000, node.config.auth.timeoutMs / 4, timeoutMs / 4, intervalMs > 0 ? intervalMs / 4 : 1000);
    this.tickMs = Math.max(20, Math.floor(finest));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Schedules the first ping of a newly authenticated connection at a random point of the interval. */
  schedule(nextPingAt: number): number {
    const { intervalMs } = this.node.config.heartbeat;
    return intervalMs > 0 ? nextPingAt + Math.floor(intervalMs * (0.5 + Math.random() * 0.5)) : Infinity;
  }

  private tick(): void {
    const now = Date.now();
    const { config } = this.node;
    const { intervalMs, timeoutMs } = config.heartbeat;
    for (const conn of this.node.connections) {
      if (conn.state === 'auth_pending' || conn.state === 'authenticating') {
        if (now - conn.connectedAt > config.auth.timeoutMs) conn.rejectAuth(CloseCode.bad_request, 'auth_timeout');
        continue;
      }
      if (conn.state !== 'ready' || !isAuthenticated(conn)) continue;
      const exp = conn.identity.expiresAtMs;
      if (exp !== undefined) {
        // The same tolerance as token verification: a token accepted within it is not closed at once.
        if (now >= exp + config.auth.clockToleranceSec * 1000) {
          conn.terminate(new Disconnect(CloseCode.token_expired, 'token_expired'));
          continue;
        }
        if (!conn.expiringNoticeSent && now >= exp - config.auth.expiringNoticeMs) {
          conn.expiringNoticeSent = true;
          conn.send({ type: 'token_expiring', expiresAt: Math.floor(exp / 1000) });
        }
      }
      if (intervalMs <= 0) continue;
      if (conn.pingSentAt > 0) {
        if (now - conn.pingSentAt > timeoutMs) conn.terminate(new Disconnect(CloseCode.no_pong, 'no_pong'));
        continue;
      }
      if (now >= conn.nextPingAt) {
        conn.pingSentAt = now;
        conn.nextPingAt = now + intervalMs;
        conn.send({ type: 'ping' });
      }
    }
  }
}
