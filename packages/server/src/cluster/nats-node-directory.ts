import type { KV } from '@nats-io/kv';
import type { NodeDirectory, NodeInfo } from './node-directory.ts';
import type { NatsLiveness } from '../nats/liveness.ts';
import { token } from '../nats/names.ts';
import type { Logger } from '../logger.ts';

/**
 * The live nodes on NATS: each node's heartbeat (`NatsLiveness`) carries its `NodeInfo`, so a
 * killed node drops out when its beat expires. Each node's channels are one KV value
 * (`channels.<node>`), written every `channelsIntervalMs` when they changed.
 */
export class NatsNodeDirectory implements NodeDirectory {
  private readonly kv: KV;
  private readonly key: (k: string) => string;
  private readonly liveness: NatsLiveness;
  private readonly self: () => NodeInfo;
  private readonly local: () => Iterable<[string, number]>;
  private readonly version: () => number;
  private readonly timer: NodeJS.Timeout;
  private written = -1;

  constructor(o: { kv: KV; key: (k: string) => string; liveness: NatsLiveness; self: () => NodeInfo; channels: () => Iterable<[string, number]>; channelsVersion: () => number; channelsIntervalMs?: number; log?: Logger }) {
    this.kv = o.kv;
    this.key = o.key;
    this.liveness = o.liveness;
    this.self = o.self;
    this.local = o.channels;
    this.version = o.channelsVersion;
    this.timer = setInterval(() => void this.flush().catch((err) => o.log?.warn({ err: (err as Error).message }, "node directory: writing this node's channels failed; retrying")), o.channelsIntervalMs ?? 1000);
    this.timer.unref();
    void this.liveness.ensure().catch(() => {});
  }

  private async flush(): Promise<void> {
    const v = this.version();
    if (v === this.written) return;
    await this.kv.put(this.key(`channels.${token(this.liveness.id)}`), JSON.stringify([...this.local()]));
    this.written = v;
  }

  async nodes(): Promise<NodeInfo[]> {
    const me = this.self();
    const others = (await this.liveness.known()).filter((n) => n !== me.id).sort();
    const infos = await Promise.all(others.map((n) => this.liveness.infoOf(n)));
    return [me, ...infos.filter((i): i is NodeInfo => typeof i === 'object' && i !== null)].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async channels(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const others = (await this.liveness.known()).filter((n) => n !== this.liveness.id);
    const alive = await this.liveness.liveOf(others);
    await Promise.all([...alive].map(async (n) => {
      const e = await this.kv.get(this.key(`channels.${token(n)}`));
      const list = e && e.operation === 'PUT' && e.length > 0 ? e.json<Array<[string, number]>>() : [];
      for (const [ch, k] of list) out.set(ch, (out.get(ch) ?? 0) + k);
    }));
    for (const [ch, k] of this.local()) out.set(ch, (out.get(ch) ?? 0) + k);
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.kv.delete(this.key(`channels.${token(this.liveness.id)}`)).catch(() => {});
  }
}
