import type { KV } from '@nats-io/kv';
import { token } from './names.ts';
import type { CasBucket } from './cas-bucket.ts';
import type { Logger } from '../logger.ts';

/**
 * This node's heartbeat in a KV bucket (`live.<node>`, a write every `intervalMs` with its
 * deadline and `info`), and whether another node's heartbeat is fresh. A node's presence
 * entries, logins and occupancy count only while it is live, so a node that dies stops
 * counting `ttlMs` after its last beat. Deadlines are the writer's clock: nodes' clocks must
 * agree within a fraction of `ttlMs` (NTP).
 */
export class NatsLiveness {
  readonly id: string;
  readonly ttlMs: number;
  private readonly kv: KV;
  private readonly key: (k: string) => string;
  private readonly info: (() => unknown) | undefined;
  private readonly log: Logger | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly cas: CasBucket;
  private readonly cache = new Map<string, { until: number; at: number; info: unknown }>();
  private stopped = false;
  private first: Promise<void> | undefined;

  constructor(o: { kv: KV; cas: CasBucket; key: (k: string) => string; id: string; ttlMs?: number; intervalMs?: number; info?: () => unknown; log?: Logger }) {
    this.kv = o.kv;
    this.cas = o.cas;
    this.key = o.key;
    this.id = o.id;
    this.info = o.info;
    this.log = o.log;
    const interval = o.intervalMs ?? 2000;
    this.ttlMs = o.ttlMs ?? interval * 3;
    this.timer = setInterval(() => void this.beat().catch((err) => this.log?.warn({ err: (err as Error).message }, 'nats: node heartbeat failed; retrying next interval')), interval);
    this.timer.unref();
  }

  /** Resolves once this node has beaten at least once and is listed among the nodes (`known`). */
  ensure(): Promise<void> {
    this.first ??= (async () => {
      await this.beat();
      await this.cas.update<string[], void>(this.key('nodes'), (cur) => ({ value: cur?.includes(this.id) ? cur : [...(cur ?? []), this.id], result: undefined }));
    })().catch((err) => {
      this.first = undefined;
      throw err;
    });
    return this.first;
  }

  /** Every node that ever beat (live or not: the sweeps of presence and occupancy settle the dead ones; one id per node start). */
  async known(): Promise<string[]> {
    return (await this.cas.get<string[]>(this.key('nodes'))) ?? [];
  }

  /** What a live node's last beat carried (`info`); undefined when it is not live. */
  async infoOf(node: string): Promise<unknown> {
    return (await this.alive(node)) ? this.cache.get(node)?.info : undefined;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    await this.kv.put(this.key(`live.${token(this.id)}`), JSON.stringify({ until: Date.now() + this.ttlMs, info: this.info?.() ?? null }));
  }

  /** True while `node` beats (this node always is, until `stop`). A live answer is cached for a fraction of the ttl. */
  async alive(node: string): Promise<boolean> {
    if (node === this.id) return !this.stopped;
    const now = Date.now();
    let c = this.cache.get(node);
    // A live answer is kept for a fraction of the ttl; a dead one is asked again every time
    // (a node that had not beaten yet when first asked must count as soon as it does).
    if (!c || c.until <= now || now - c.at > this.ttlMs / 4) {
      const e = await this.kv.get(this.key(`live.${token(node)}`));
      const beat = e && e.operation === 'PUT' && e.length > 0 ? e.json<{ until: number; info: unknown }>() : undefined;
      c = { until: beat?.until ?? 0, at: now, info: beat?.info };
      this.cache.set(node, c);
      if (this.cache.size > 1000) this.cache.delete(this.cache.keys().next().value!);
    }
    return c.until > now;
  }

  /** Which of `nodes` are not live (this node never is among them). */
  async deadOf(nodes: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(nodes)];
    const ok = await Promise.all(all.map((n) => this.alive(n)));
    return new Set(all.filter((n, i) => !ok[i] && n !== this.id));
  }

  /** Which of `nodes` are live. */
  async liveOf(nodes: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(nodes)];
    const ok = await Promise.all(all.map((n) => this.alive(n)));
    return new Set(all.filter((_, i) => ok[i]));
  }

  /** Stops beating; with `forget`, removes the heartbeat (this node's entries stop counting now). */
  async stop(forget = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (forget) await this.kv.delete(this.key(`live.${token(this.id)}`)).catch(() => {});
  }
}
