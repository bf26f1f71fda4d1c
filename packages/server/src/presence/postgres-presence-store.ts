import { groupByUser, type PresenceMember, type PresenceStore, type PresenceUser } from './presence-store.ts';
import type { PgNodeLiveness } from '../postgres/liveness.ts';
import { endPool, type PgPool } from '../postgres/connect.ts';
import type { Logger } from '../logger.ts';

export interface PostgresPresenceStoreOptions {
  pool: PgPool;
  /** End the pool on `close`. Default true. */
  owns?: boolean;
  /** This node's liveness: its entries count while it beats. */
  liveness: PgNodeLiveness;
  /** How often this node sweeps for users of dead nodes (ms). Default 10 000. */
  sweepMs?: number;
  log?: Logger;
  /** Called with each user the sweep settled offline (the node announces it). */
  onUserExpired?: (user: string) => void;
}

/** A member's info as stored (JSON); undefined when absent or malformed. */
function infoOf(text: string | null): { info?: unknown } {
  if (text === null) return {};
  try {
    return { info: JSON.parse(text) as unknown };
  } catch {
    return {};
  }
}

/**
 * Presence in PostgreSQL, shared by every node: a row per connection in a channel
 * (`sb_presence`) and per connection of a user (`sb_user_conns`), each naming the node that
 * holds it; a row counts while its node is live (`PgNodeLiveness`). Online/offline is
 * decided atomically per user by `sb_user_up`/`sb_user_down`/`sb_user_settle`. Users whose
 * last connections were on a node that died are found by `sweep` (every node runs it) and
 * settled like any other: `onUserExpired` announces them offline, once cluster-wide.
 */
export class PostgresPresenceStore implements PresenceStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly liveness: PgNodeLiveness;
  private readonly sweeper: NodeJS.Timeout;
  private readonly log: Logger | undefined;
  private readonly onUserExpired: ((user: string) => void) | undefined;
  /** user → this node's connections of that user. */
  private readonly localUsers = new Map<string, Set<string>>();

  constructor(o: PostgresPresenceStoreOptions) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.liveness = o.liveness;
    this.log = o.log;
    this.onUserExpired = o.onUserExpired;
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.log?.warn({ err: (err as Error).message }, 'presence sweep failed')), o.sweepMs ?? 10_000);
    this.sweeper.unref();
  }

  async add(channel: string, member: PresenceMember): Promise<boolean> {
    await this.liveness.ensure();
    const { rows } = await this.pool.query<{ first: boolean }>(
      `WITH ins AS (
         INSERT INTO sb_presence (channel, client, "user", info, node) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (channel, client) DO UPDATE SET "user" = excluded."user", info = excluded.info, node = excluded.node
         RETURNING 1)
       SELECT NOT EXISTS (SELECT 1 FROM sb_presence p WHERE p.channel = $1 AND p."user" = $3 AND p.client <> $2 AND sb_live(p.node, $6)) AS first
       FROM ins`,
      [channel, member.client, member.user, member.info === undefined ? null : JSON.stringify(member.info), this.liveness.id, Date.now()],
    );
    return rows[0]?.first ?? false;
  }

  async remove(channel: string, client: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ last: boolean }>(
      `WITH del AS (DELETE FROM sb_presence WHERE channel = $1 AND client = $2 RETURNING "user")
       SELECT NOT EXISTS (SELECT 1 FROM sb_presence p, del WHERE p.channel = $1 AND p."user" = del."user" AND p.client <> $2 AND sb_live(p.node, $3)) AS last
       FROM del`,
      [channel, client, Date.now()],
    );
    return rows[0]?.last ?? false;
  }

  async get(channel: string): Promise<Record<string, PresenceUser>> {
    const { rows } = await this.pool.query<{ user: string; info: string | null }>(
      'SELECT p."user", p.info FROM sb_presence p WHERE p.channel = $1 AND sb_live(p.node, $2) ORDER BY p.client', [channel, Date.now()],
    );
    return groupByUser(rows.map((r) => ({ user: r.user, ...infoOf(r.info) })));
  }

  async userUp(user: string, client: string): Promise<boolean> {
    await this.liveness.ensure();
    const { rows } = await this.pool.query<{ up: boolean }>('SELECT sb_user_up($1, $2, $3) AS up', [user, client, this.liveness.id]);
    let local = this.localUsers.get(user);
    if (!local) this.localUsers.set(user, (local = new Set()));
    local.add(client);
    return rows[0]!.up;
  }

  async userDown(user: string, client: string): Promise<number> {
    const local = this.localUsers.get(user);
    if (local?.delete(client) && local.size === 0) this.localUsers.delete(user);
    const { rows } = await this.pool.query<{ n: number }>('SELECT sb_user_down($1, $2, $3) AS n', [user, client, Date.now()]);
    return rows[0]!.n;
  }

  async settleOffline(user: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ settled: boolean }>('SELECT sb_user_settle($1, $2) AS settled', [user, Date.now()]);
    return rows[0]!.settled;
  }

  async online(users: readonly string[]): Promise<string[]> {
    if (users.length === 0) return [];
    const { rows } = await this.pool.query<{ user: string }>('SELECT "user" FROM sb_user_announced WHERE "user" = ANY($1::text[])', [users]);
    return rows.map((r) => r.user);
  }

  /**
   * Settles users whose every connection was on dead nodes (true from `settleOffline`: this
   * node won the race to announce them offline), and deletes dead nodes' channel entries.
   */
  async sweep(): Promise<void> {
    const now = Date.now();
    const { rows } = await this.pool.query<{ user: string }>(
      'SELECT DISTINCT c."user" FROM sb_user_conns c WHERE NOT sb_live(c.node, $1) LIMIT 500', [now],
    );
    for (const { user } of rows) {
      if (this.localUsers.has(user)) continue;
      if (await this.settleOffline(user)) this.onUserExpired?.(user);
    }
    await this.pool.query('DELETE FROM sb_presence WHERE ctid = ANY (ARRAY(SELECT ctid FROM sb_presence p WHERE NOT sb_live(p.node, $1) LIMIT 5000))', [now]);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.owns) await endPool(this.pool);
  }
}
