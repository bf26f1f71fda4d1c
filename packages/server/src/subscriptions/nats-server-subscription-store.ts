import type { KV } from '@nats-io/kv';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';
import { token } from '../nats/names.ts';
import { updateKey } from '../nats/kv.ts';

/** Persistent server-side subscriptions in a JetStream KV bucket: one key per user, its channels in first-added order. */
export class NatsServerSubscriptionStore implements ServerSubscriptionStore {
  private readonly kv: Promise<KV>;
  private readonly key: (k: string) => string;

  constructor(o: { kv: Promise<KV>; key: (k: string) => string }) {
    this.kv = o.kv;
    this.key = o.key;
  }

  async add(user: string, channel: string): Promise<void> {
    await updateKey<string[]>(await this.kv, this.key(token(user)), (cur) => (cur?.includes(channel) ? cur : [...(cur ?? []), channel]));
  }

  async remove(user: string, channel: string): Promise<void> {
    await updateKey<string[]>(await this.kv, this.key(token(user)), (cur) => {
      if (!cur?.includes(channel)) return cur;
      const rest = cur.filter((c) => c !== channel);
      return rest.length > 0 ? rest : undefined;
    });
  }

  async list(user: string, max: number): Promise<string[]> {
    const e = await (await this.kv).get(this.key(token(user)));
    return e && e.operation === 'PUT' ? e.json<string[]>().slice(0, max) : [];
  }

  async close(): Promise<void> {}
}
