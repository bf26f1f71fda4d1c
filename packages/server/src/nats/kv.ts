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
