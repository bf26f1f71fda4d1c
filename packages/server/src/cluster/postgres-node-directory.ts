import type { NodeDirectory, NodeInfo } from './node-directory.ts';
import type { PgNodeLiveness } from '../postgres/liveness.ts';
import type { PgPool } from '../postgres/connect.ts';
import type { Logger } from '../logger.ts';

/**
 * The live nodes in PostgreSQL: each node's `sb_nodes` row carries its `NodeInfo` (written
 * by its `PgNodeLiveness` beat), so a killed node drops out when its row expires. Each node's
 * channels live in `sb_directory_channels`; every `channelsIntervalMs` the node writes only
 * what changed since its last write (nothing at all when `channelsVersion` did not move).
 */
export class PostgresNodeDirectory implements NodeDirectory {
  private readonly pool: PgPool;
  private readonly liveness: PgNodeLiveness;
  private readonly self: () => NodeInfo;
  private readonly local: () => Iterable<[string, number]>;
  private readonly version: (() => number) | undefined;
  private readonly log: Logger | undefined;
  private readonly timer: NodeJS.Timeout;
  /** What the table holds for this node as far as it knows; undefined: rewrite it whole. */
  private written: Map<string, number> | undefined;
  private writtenVersion = -1;
  private flushing: Promise<void> | undefined;

  constructor(o: {
    pool: PgPool; liveness: PgNodeLiveness; self: () => NodeInfo; log?: Logger;
    channels?: () => Iterable<[string, number]>; channelsVersion?: () => number; channelsIntervalMs?: number;
  }) {
    this.pool = o.pool;
    this.liveness = o.liveness;
    this.self = o.self;
    this.local = o.channels ?? (() => []);
    this.version = o.channelsVersion;
    this.log = o.log;
    this.timer = setInterval(() => void this.flush(), o.channelsIntervalMs ?? 1000);
    this.timer.unref();
    void this.liveness.ensure().catch(() => {});
  }

  async nodes(): Promise<NodeInfo[]> {
    const me = this.self();
    await this.liveness.beat();
    const { rows } = await this.pool.query<{ id: string; info: string | null }>('SELECT id, info FROM sb_nodes WHERE expires_at > $1 ORDER BY id COLLATE "C"', [Date.now()]);
    return rows.flatMap((r) => (r.id === me.id ? [me] : r.info ? [JSON.parse(r.info) as NodeInfo] : []));
  }

  async channels(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ channel: string; n: string }>(
      'SELECT d.channel, sum(d.count) AS n FROM sb_directory_channels d WHERE d.node <> $1 AND sb_live(d.node, $2) GROUP BY d.channel',
      [this.liveness.id, Date.now()],
    );
    const out = new Map(rows.map((r) => [r.channel, Number(r.n)]));
    for (const [channel, n] of this.local()) out.set(channel, (out.get(channel) ?? 0) + n);
    return out;
  }

  /** Writes this node's channel changes (one flush at a time). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    const version = this.version?.();
    if (version !== undefined && version === this.writtenVersion && this.written) return;
    const now = new Map(this.local());
    const before = this.written;
    const upsert: Array<[string, number]> = [];
    const gone: string[] = [];
    for (const [ch, n] of now) if (before?.get(ch) !== n) upsert.push([ch, n]);
    if (before) for (const ch of before.keys()) if (!now.has(ch)) gone.push(ch);
    try {
      await this.pool.query(
        // A full rewrite deletes everything it does not upsert (never a row it upserts: one statement).
        `WITH w AS (DELETE FROM sb_directory_channels WHERE node = $1 AND (($4 AND channel <> ALL ($2::text[])) OR channel = ANY ($5::text[])))
         INSERT INTO sb_directory_channels (node, channel, count) SELECT $1, c, n FROM unnest($2::text[], $3::int[]) AS u(c, n)
         ON CONFLICT (node, channel) DO UPDATE SET count = excluded.count`,
        [this.liveness.id, upsert.map((u) => u[0]), upsert.map((u) => u[1]), before === undefined, gone],
      );
      this.written = now;
      if (version !== undefined) this.writtenVersion = version;
    } catch (err) {
      this.written = undefined;
      this.log?.warn({ err: (err as Error).message }, 'node directory: writing this node\'s channels failed; retrying');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.pool.query('DELETE FROM sb_directory_channels WHERE node = $1', [this.liveness.id]).catch(() => {});
    await this.liveness.stop(true);
  }
}
