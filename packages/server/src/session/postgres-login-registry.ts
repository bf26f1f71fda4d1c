import type { AcquireResult, LoginLimit, LoginRegistry } from './login-registry.ts';
import type { PgNodeLiveness } from '../postgres/liveness.ts';
import { endPool, type PgPool } from '../postgres/connect.ts';

/**
 * Live logins for single sign-on in PostgreSQL, shared by every node: per (scope, user) the
 * logins in admission order (`sb_logins`) and their connections, each naming its node
 * (`sb_login_clients`); a connection counts while its node is live, so a crashed node frees
 * its logins' slots. `acquire` and `release` are functions that lock the (scope, user)
 * first: two nodes racing for the last slot cannot both win.
 */
export class PostgresLoginRegistry implements LoginRegistry {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly liveness: PgNodeLiveness;

  constructor(o: { pool: PgPool; owns?: boolean; liveness: PgNodeLiveness }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.liveness = o.liveness;
  }

  async acquire(scope: string, user: string, login: string, client: string, limit: LoginLimit): Promise<AcquireResult> {
    await this.liveness.ensure();
    const { rows } = await this.pool.query<{ r: string[] }>(
      'SELECT sb_login_acquire($1, $2, $3, $4, $5, $6, $7, $8) AS r',
      [scope, user, login, client, this.liveness.id, Date.now(), limit.maxPerUser, limit.onLimit === 'reject_new'],
    );
    const r = rows[0]!.r;
    if (r[0] === '0') return { admitted: false, live: Number(r[1]) };
    return { admitted: true, evicted: r.slice(1) };
  }

  async release(scope: string, user: string, login: string, client: string): Promise<void> {
    await this.pool.query('SELECT sb_login_release($1, $2, $3, $4, $5)', [scope, user, login, client, Date.now()]);
  }

  async logins(scope: string, user: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ login: string }>(
      `SELECT l.login FROM sb_logins l
       WHERE l.scope = $1 AND l."user" = $2 AND EXISTS (
         SELECT 1 FROM sb_login_clients c WHERE c.scope = l.scope AND c."user" = l."user" AND c.login = l.login AND sb_live(c.node, $3))
       ORDER BY l.seq`,
      [scope, user, Date.now()],
    );
    return rows.map((r) => r.login);
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}
