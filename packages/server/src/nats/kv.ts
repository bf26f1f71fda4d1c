import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';

/**
 * Opens (creating when missing) a KV bucket with `replicas`, reads from the stream leader
 * (`allow_direct: false`: a replica that lags never answers a read, so a node reads what it
 * wrote), one value per key. `ttlMs` ages values out physically (stores check their own
 * expiry with their clock first).
 */
export function openBucket(nc: NatsConnection, name: string, replicas: number, ttlMs = 0): Promise<KV> {
  return new Kvm(nc).create(name, { replicas, history: 1, allow_direct: false, ...(ttlMs > 0 ? { ttl: ttlMs } : {}) });
}

/**
 * Read-modify-write of one key: `change` gets the current value (undefined when none) and
 * answers the new one (undefined: delete; the same object: nothing to write). Conditional on
 * the revision read, retried when another writer came first.
 */
export async function updateKey<T>(kv: KV, key: string, change: (current: T | undefined) => T | undefined): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const e = await kv.get(key);
    const current = e && e.operation === 'PUT' ? e.json<T>() : undefined;
    const next = change(current);
    if (next === current) return;
    try {
      if (next === undefined) await kv.delete(key, { previousSeq: e!.revision });
      else if (e) await kv.update(key, JSON.stringify(next), e.revision);
      else await kv.create(key, JSON.stringify(next));
      return;
    } catch {
      // Another writer came first: read again.
    }
  }
  throw new Error(`nats: ${key} kept changing under this update`);
}
