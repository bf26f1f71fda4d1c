import type { Cluster } from 'ioredis';

/** A range of slots and the primary serving it, as `CLUSTER SLOTS` reports it. */
export interface SlotRange {
  from: number;
  to: number;
  host: string;
  port: number;
}

/** Slots in a Redis Cluster. */
const SLOTS = 16_384;

/** `CLUSTER SLOTS`, answered by `call`, as slot ranges and their primaries. */
export async function readSlotRanges(call: () => Promise<unknown>): Promise<SlotRange[]> {
  const answer = (await call()) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
  return answer.map(([from, to, [host, port]]) => ({ from: Number(from), to: Number(to), host: String(host), port: Number(port) }));
}

/**
 * Resolves when every slot of the Redis Cluster has a primary in its slot map and `redis`
 * reaches each of them (a `PING` on its connection to that primary); rejects saying which
 * part is missing. While a dead primary's replica is not yet promoted, or this client has
 * not yet found the promoted one, some channels, sessions or users cannot be served.
 */
export async function checkClusterSlots(redis: Cluster): Promise<void> {
  const ranges = await readSlotRanges(() => redis.cluster('SLOTS'));
  const covered = ranges.reduce((sum, r) => sum + r.to - r.from + 1, 0);
  if (covered < SLOTS) throw new Error(`${SLOTS - covered} of ${SLOTS} Redis Cluster slots have no primary`);
  const connected = new Map(redis.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  await Promise.all([...new Set(ranges.map((r) => `${r.host}:${r.port}`))].map(async (node) => {
    const conn = connected.get(node);
    if (!conn) throw new Error(`Redis Cluster primary ${node} is not connected yet`);
    await conn.ping();
  }));
}
