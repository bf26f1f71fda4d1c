import type { PgPool } from '../postgres/connect.ts';
import type { PgNodeLiveness } from '../postgres/liveness.ts';
import type { Logger } from '../logger.ts';
import { transitionType, type Occupancy, type Subject, type TransitionEventFor } from './occupancy.ts';
import type { WebhookEvent } from './webhook-outbox.ts';

/** Dead nodes settled per sweep. */
const DEAD_PER_SWEEP = 20;

function memberOf(subject: Subject): string {
  return `${subject.kind === 'channel' ? 'c' : 'u'}:${subject.name}`;
}

function subjectOf(member: string): Subject | undefined {
  const kind = member.startsWith('c:') ? 'channel' : member.startsWith('u:') ? 'user' : undefined;
  return kind && { kind, name: member.slice(2) };
}

/**
 * Occupancy in PostgreSQL, beside the webhook outbox: per subject (`c:<channel>`,
 * `u:<user>`) the nodes holding it (`sb_occupancy_held`) and whether it is announced up
 * (`sb_occupancy_announced`). Deciding a transition and enqueueing its event is one function
 * call (`sb_occupy`, `sb_vacate`, locked per subject), so each transition is enqueued once.
 * Liveness is the node's `sb_nodes` row (`PgNodeLiveness`); `maintain` refreshes it, puts
 * back what this node holds if it was taken for dead, and settles what dead nodes held.
 * The pool belongs to the webhook outbox (which ends it).
 */
export class PostgresOccupancy implements Occupancy {
  readonly intervalMs: number;
  private readonly pool: PgPool;
  private readonly liveness: PgNodeLiveness;
  private readonly log: Logger | undefined;
  /** The members this node holds, as reported to the store. */
  private readonly mine = new Set<string>();

  constructor(o: { pool: PgPool; liveness: PgNodeLiveness; intervalMs?: number; log?: Logger }) {
    this.pool = o.pool;
    this.liveness = o.liveness;
    this.intervalMs = o.intervalMs ?? 5000;
    this.log = o.log;
  }

  async occupy(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    this.mine.add(member);
    await this.liveness.ensure();
    return this.take(member, event);
  }

  private async take(member: string, event: WebhookEvent | undefined): Promise<boolean> {
    const { rows } = await this.pool.query<{ up: boolean }>('SELECT sb_occupy($1, $2, $3, $4, $5) AS up', [member, this.liveness.id, event?.id ?? null, event ? JSON.stringify(event) : null, event?.ts ?? 0]);
    return rows[0]!.up;
  }

  async vacate(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    this.mine.delete(member);
    return this.settle(member, this.liveness.id, event, false);
  }

  private async settle(member: string, node: string, event: WebhookEvent | undefined, settling: boolean): Promise<boolean> {
    const { rows } = await this.pool.query<{ down: boolean }>(
      'SELECT sb_vacate($1, $2, $3, $4, $5, $6, $7) AS down',
      [member, node, Date.now(), event?.id ?? null, event ? JSON.stringify(event) : null, event?.ts ?? 0, settling],
    );
    return rows[0]!.down;
  }

  private eventOf(eventFor: TransitionEventFor, member: string, up: boolean): WebhookEvent | undefined {
    const subject = subjectOf(member);
    return subject && eventFor(transitionType(subject.kind, up), subject);
  }

  async maintain(eventFor: TransitionEventFor): Promise<number> {
    await this.liveness.beat();
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM sb_occupancy_held WHERE node = $1', [this.liveness.id]);
    let enqueued = 0;
    if (Number(rows[0]!.n) !== this.mine.size) enqueued += await this.reconcile(eventFor);
    return enqueued + (await this.sweep(eventFor));
  }

  /** Makes this node's entries match what it holds again (it was taken for dead meanwhile). */
  private async reconcile(eventFor: TransitionEventFor): Promise<number> {
    const { rows } = await this.pool.query<{ member: string }>('SELECT member FROM sb_occupancy_held WHERE node = $1', [this.liveness.id]);
    const held = new Set(rows.map((r) => r.member));
    let enqueued = 0;
    let fixed = 0;
    for (const member of [...this.mine]) {
      if (held.has(member) || !this.mine.has(member)) continue;
      fixed++;
      const event = this.eventOf(eventFor, member, true);
      if ((await this.take(member, event)) && event) enqueued++;
    }
    for (const member of held) {
      if (this.mine.has(member)) continue;
      fixed++;
      const event = this.eventOf(eventFor, member, false);
      if ((await this.settle(member, this.liveness.id, event, false)) && event) enqueued++;
    }
    if (fixed > 0) this.log?.warn({ entries: fixed }, 'webhook occupancy: this node\'s entries in Postgres were lost (taken for dead); restored');
    return enqueued;
  }

  /** Settles what nodes that are no longer live held. */
  private async sweep(eventFor: TransitionEventFor): Promise<number> {
    const now = Date.now();
    const { rows: dead } = await this.pool.query<{ node: string }>(
      'SELECT DISTINCT h.node FROM sb_occupancy_held h WHERE NOT sb_live(h.node, $1) LIMIT $2', [now, DEAD_PER_SWEEP],
    );
    let enqueued = 0;
    for (const { node } of dead) {
      if (node === this.liveness.id) continue;
      const { rows } = await this.pool.query<{ member: string }>('SELECT member FROM sb_occupancy_held WHERE node = $1', [node]);
      for (const { member } of rows) {
        const event = this.eventOf(eventFor, member, false);
        if ((await this.settle(member, node, event, true)) && event) enqueued++;
      }
    }
    return enqueued;
  }
}
