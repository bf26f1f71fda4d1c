import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from './connect.ts';
import type { Logger } from '../logger.ts';

/** How to reach the sentinels and the primaries they name (from the `redis+sentinel://` URL). */
export interface SentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  master: string;
  /** Options for a connection to a sentinel (its authentication, TLS). */
  sentinelOptions: RedisOptions;
  /** Options for a connection to a primary (its authentication, TLS). */
  primaryOptions: RedisOptions;
}

/** One short-lived connection: `run` on it, then it is dropped; rejects on any failure. */
async function once<T>(options: RedisOptions, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000, commandTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

const fields = (flat: unknown[]) => {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(String(flat[i]), String(flat[i + 1]));
  return out;
};
const runId = (info: string) => /run_id:(\w+)/.exec(info)?.[1] ?? '';

/**
 * Behind Sentinel, a write whose `WAIT` fell short may be a write to a primary the sentinels
 * have replaced: this node kept its connections to the old primary, cut off from the
 * sentinels and its replicas (a partition), while another was promoted. Connections only ask
 * the sentinels again when they break or a write answers `READONLY`; neither happens there.
 *
 * `check()` (called on each shortfall or timed-out write, at most once per `minIntervalMs`) asks every sentinel
 * it reaches which primary is current (the answer with the highest config epoch wins), and
 * when that is not the server `probe` is connected to (compared by `run_id`), drops every
 * connection of the node: each reconnects through the sentinels, to the primary they name.
 */
export class SentinelFollower {
  private readonly target: SentinelTarget;
  private readonly probe: RedisClient;
  private readonly connections: () => RedisClient[];
  private readonly log: Logger | undefined;
  private readonly minIntervalMs: number;
  private last = 0;
  private running: Promise<boolean> | undefined;

  constructor(o: { target: SentinelTarget; probe: RedisClient; connections: () => RedisClient[]; log?: Logger; minIntervalMs?: number }) {
    this.target = o.target;
    this.probe = o.probe;
    this.connections = o.connections;
    this.log = o.log;
    this.minIntervalMs = o.minIntervalMs ?? 2000;
  }

  /** Resolves true when the connections were moved; false when they are where the sentinels say (or nobody answered). */
  check(): Promise<boolean> {
    if (this.running) return this.running;
    if (Date.now() - this.last < this.minIntervalMs) return Promise.resolve(false);
    this.last = Date.now();
    this.running = this.follow().catch(() => false).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async follow(): Promise<boolean> {
    const answers = await Promise.allSettled(this.target.sentinels.map((s) => once({ ...this.target.sentinelOptions, host: s.host, port: s.port }, async (r) => fields(await r.call('SENTINEL', 'MASTER', this.target.master) as unknown[]))));
    let best: Map<string, string> | undefined;
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      if (!best || Number(a.value.get('config-epoch') ?? -1) > Number(best.get('config-epoch') ?? -1)) best = a.value;
    }
    const host = best?.get('ip');
    const port = Number(best?.get('port'));
    if (!host || !port) return false;
    const [named, ours] = await Promise.all([
      once({ ...this.target.primaryOptions, host, port }, async (r) => runId(await r.info('server'))),
      // A primary cut off by a partition does not answer (the command times out): not it.
      this.probe.info('server').then(runId, () => ''),
    ]);
    if (!named || named === ours) return false;
    this.log?.warn({ primary: `${host}:${port}` }, 'redis: a write was not replicated and the sentinels name another primary; reconnecting there');
    for (const c of this.connections()) c.disconnect(true);
    return true;
  }
}
