import pg from 'pg';
import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';
import { SingleFlight } from '../postgres/batch.ts';
import { clientConfig, endPool, shardOf, type PgNames, type PgPool, type PgTarget } from '../postgres/connect.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import { newNodeId } from '../cluster/node-id.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface PostgresBrokerOptions {
  /** Connections for NOTIFY and for reading large payloads (the broker ends it on `close` when it `owns` it). */
  pool: PgPool;
  owns?: boolean;
  /** Where the dedicated LISTEN connection goes (the same database and schema as `pool`). */
  target: PgTarget;
  names: PgNames;
  log?: Logger;
  /** This node's address (`Broker.nodeId`); a new one when absent. */
  nodeId?: string;
  /** How long a large payload is kept for listeners to read (ms). Default 60 s. */
  largeTtlMs?: number;
}

/** A notification waiting its turn: delivered in arrival order, once its payload is known. */
interface Arrival {
  channel: string;
  payload: Promise<string | undefined> | string | undefined;
}

/**
 * Moves publications and control messages between nodes with PostgreSQL's LISTEN/NOTIFY.
 *
 * - Channels map onto `SHARDS` notification channels (`shardOf`): a node LISTENs to the
 *   shards of the channels it has subscribers for and drops what it does not want. Control
 *   messages for every node use one channel every node listens to; those addressed to one
 *   node use that node's own channel (`PgNames.node`), which only it listens to.
 * - Order: a node's publishes leave in order on one batch at a time (`SingleFlight`, one
 *   `sb_notify_many` statement per batch); PostgreSQL delivers notifications in commit order,
 *   and `PostgresHistoryStore.appendAndPublish` notifies inside the storing transaction, so
 *   a channel's stored publications arrive in offset order on every node.
 * - Payloads of 7,900 bytes or more travel by reference (`sb_notify`): the listener reads them
 *   from `sb_broker_large`, and later notifications wait for them, so order holds.
 * - At-most-once: what is notified while the LISTEN connection is down is lost. When it is
 *   back (re-LISTENed), `onGap` tells the node, and clients recover from history.
 */
export class PostgresBroker implements Broker {
  readonly nodeId: string;
  private readonly handler: BrokerHandler;
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly target: PgTarget;
  private readonly names: PgNames;
  private readonly log: Logger | undefined;
  private readonly largeTtlMs: number;
  private readonly batches: SingleFlight<[string, string], void>;
  /** Channels with local subscribers, and how many of them each shard has. */
  private readonly channels = new Set<string>();
  private readonly shards = new Map<number, { count: number; listening: Promise<void> }>();
  private listener: pg.Client | undefined;
  private connected = false;
  private reconnecting = false;
  private closed = false;
  private nonce = 0;
  private readonly queue: Arrival[] = [];
  private readonly cleaner: NodeJS.Timeout;
  readonly ready: Promise<void>;

  /** True while the LISTEN connection is down: notifications may be missed until it is back. */
  get degraded(): boolean {
    return !this.connected && !this.closed;
  }

  constructor(handler: BrokerHandler, o: PostgresBrokerOptions) {
    this.handler = handler;
    this.nodeId = o.nodeId ?? newNodeId();
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.target = o.target;
    this.names = o.names;
    this.log = o.log;
    this.largeTtlMs = o.largeTtlMs ?? 60_000;
    this.batches = new SingleFlight(async (items) => {
      await this.pool.query('SELECT sb_notify_many($1, $2, $3)', [items.map((i) => i[0]), items.map((i) => i[1]), Date.now()]);
      return items.map(() => undefined);
    });
    this.cleaner = setInterval(() => void this.clean(), Math.max(1000, this.largeTtlMs / 2));
    this.cleaner.unref();
    this.ready = this.listen();
  }

  /** Opens the LISTEN connection and listens to the control channel and every wanted shard. */
  private async listen(): Promise<void> {
    const c = new pg.Client({ ...clientConfig({ ...this.target, name: 'switchboard:broker-listen' }), query_timeout: 0 });
    c.on('notification', (n) => this.arrive(n.channel, n.payload));
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    this.listener = c;
    await c.connect();
    await c.query(`LISTEN "${this.names.control()}"`);
    await c.query(`LISTEN "${this.names.node(this.nodeId)}"`);
    for (const [shard, entry] of this.shards) {
      await c.query(`LISTEN "${this.names.shard(shard)}"`);
      entry.listening = Promise.resolve();
    }
    this.connected = true;
  }

  private lost(c: pg.Client): void {
    if (this.listener !== c || this.closed || this.reconnecting) return;
    this.listener = undefined;
    if (this.connected) this.log?.warn('postgres broker: the LISTEN connection was lost; publications may be missed until it is back');
    this.connected = false;
    c.end().catch(() => {});
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    try {
      await this.reconnectLoop();
    } finally {
      this.reconnecting = false;
    }
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 5), 3000)));
      if (this.closed) return;
      try {
        await this.listen();
        this.log?.warn('postgres broker: the LISTEN connection is back; clients recover from history');
        this.handler.onGap?.();
        return;
      } catch {
        const c = this.listener;
        this.listener = undefined;
        await c?.end().catch(() => {});
      }
    }
  }

  /** A notification: decoded in arrival order (a reference is read first; later ones wait). */
  private arrive(channel: string, raw: string | undefined): void {
    const body = (raw ?? '').replace(/^\d+/, '');
    const payload = body.startsWith('@') ? this.fetchLarge(body.slice(1)) : body;
    if (this.queue.length === 0 && typeof payload === 'string') return this.deliver(channel, payload);
    this.queue.push({ channel, payload });
    if (this.queue.length === 1) void this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const payload = await head.payload;
      this.queue.shift();
      if (payload !== undefined) this.deliver(head.channel, payload);
    }
  }

  private async fetchLarge(id: string): Promise<string | undefined> {
    try {
      const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM sb_broker_large WHERE id = $1', [id]);
      if (!rows[0]) this.ignore('reference (its payload is gone)', id);
      return rows[0]?.body;
    } catch (err) {
      this.ignore('reference (reading its payload failed)', id, err);
      return undefined;
    }
  }

  /**
   * Hands a message to the node. A message that is not what a node writes (a bug, a foreign
   * writer on the channel) is ignored with a rate-limited warning, never thrown.
   */
  private deliver(channel: string, payload: string): void {
    try {
      const msg: unknown = JSON.parse(payload.replace(/^\d+/, ''));
      if (channel === this.names.control() || channel === this.names.node(this.nodeId)) {
        if (!isRecord(msg) || typeof msg.type !== 'string') return this.ignore('control message', payload);
        this.handler.onControl(msg as unknown as ControlMessage);
        return;
      }
      if (!isRecord(msg) || typeof msg.channel !== 'string' || typeof msg.ts !== 'number' || (msg.offset !== undefined && typeof msg.offset !== 'number') || (msg.epoch !== undefined && typeof msg.epoch !== 'string')) {
        return this.ignore('publication', payload);
      }
      if (!this.channels.has(msg.channel)) return;
      this.handler.onPublication(msg.channel, msg as unknown as Publication);
    } catch (err) {
      this.ignore('message', payload, err);
    }
  }

  private ignore(what: string, payload: string, err?: unknown): void {
    if (this.log) limited(this.log).warn({ bytes: payload.length, ...(err !== undefined ? { err: String(err) } : {}) }, `postgres broker: malformed ${what} ignored`);
  }

  /** Deletes large payloads every listener has had time to read. */
  private async clean(): Promise<void> {
    await this.pool.query('DELETE FROM sb_broker_large WHERE at < $1', [Date.now() - this.largeTtlMs]).catch(() => { /* next time */ });
  }

  async publish(channel: string, pub: Publication): Promise<void> {
    // The nonce keeps two equal payloads of one batch apart (NOTIFY folds identical ones in a transaction).
    await this.batches.add([this.names.shard(shardOf(channel)), `${++this.nonce}${JSON.stringify({ ...pub, channel })}`]);
  }

  async publishControl(msg: ControlMessage, toNode?: string): Promise<void> {
    await this.batches.add([toNode === undefined ? this.names.control() : this.names.node(toNode), `${++this.nonce}${JSON.stringify(msg)}`]);
  }

  async subscribe(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    const shard = shardOf(channel);
    const known = this.shards.get(shard);
    if (known) {
      known.count++;
      return known.listening;
    }
    // Later channels of the shard wait for the same LISTEN: nothing notified after it is missed.
    const listening = this.connected && this.listener
      ? this.listener.query(`LISTEN "${this.names.shard(shard)}"`).then(() => undefined)
      : Promise.reject(new Error('postgres broker: not connected (the LISTEN connection is down)'));
    listening.catch(() => {});
    this.shards.set(shard, { count: 1, listening });
    return listening;
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return;
    const shard = shardOf(channel);
    const known = this.shards.get(shard);
    if (known && --known.count > 0) return;
    this.shards.delete(shard);
    if (this.connected && this.listener) await this.listener.query(`UNLISTEN "${this.names.shard(shard)}"`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.cleaner);
    while (!this.batches.idle) await new Promise((r) => setTimeout(r, 5));
    const c = this.listener;
    this.listener = undefined;
    await c?.end().catch(() => {});
    if (this.owns) await endPool(this.pool);
  }
}
