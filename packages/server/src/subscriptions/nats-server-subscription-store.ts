import type { CasBucket } from '../nats/cas-bucket.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';
import { token } from '../nats/names.ts';

/** Persistent server-side subscriptions in a JetStream KV bucket: one key per user, its channels in first-added order (changed with `CasBucket`). */
export class NatsServerSubscriptionStore implements ServerSubscriptionStore {
  private readonly bucket: CasBucket;
  private readonly key: (k: string) => string;

  constructor(o: { bucket: CasBucket; key: (k: string) => string }) {
    this.bucket = o.bucket;
    this.key = o.key;
  }

  async add(user: string, channel: string): Promise<void> {
    await this.bucket.update<string[], void>(this.key(token(user)), (cur) => ({ value: cur?.includes(channel) ? cur : [...(cur ?? []), channel], result: undefined }));
  }

  async remove(user: string, channel: string): Promise<void> {
    await this.bucket.update<string[], void>(this.key(token(user)), (cur) => {
      if (!cur?.includes(channel)) return { value: cur, result: undefined };
      const rest = cur.filter((c) => c !== channel);
      return { value: rest.length > 0 ? rest : undefined, result: undefined };
    });
  }

  async list(user: string, max: number): Promise<string[]> {
    return ((await this.bucket.get<string[]>(this.key(token(user)))) ?? []).slice(0, max);
  }

  async close(): Promise<void> {}
}
