import type { Node } from './node.ts';

/** A channel name no client can use (`$` is outside the channel alphabet): the readiness probe. */
const PROBE_CHANNEL = '$switchboard:readyz';
const PROBE_SESSION = 's_readyz-probe';

/** What `/readyz` answers. */
export type Readiness =
  | { ready: true }
  | { ready: false; reason: 'draining' | 'stores_unreachable'; detail?: string };

/**
 * Ready when the node accepts connections and its stores answer: one cheap read of the
 * history store and one of the session store, and in cluster mode the backend's own check
 * (`Stores.probe`: on a Redis Cluster every slot served by a reachable primary, the broker's
 * subscriptions in place), all bounded by `timeoutMs`.
 */
export async function readiness(node: Node, timeoutMs = 2000): Promise<Readiness> {
  if (!node.accepting) return { ready: false, reason: 'draining' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.all([node.history.position(PROBE_CHANNEL), node.sessions.get(PROBE_SESSION), node.probeBackend?.()]), timeout]);
    return { ready: true };
  } catch (err) {
    return { ready: false, reason: 'stores_unreachable', detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
