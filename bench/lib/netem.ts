import { spawnSync } from 'node:child_process';
import { createTestNetwork, type TestNetwork } from '../../test/support/netns.ts';

/** Latency and loss both ways on the link of the server's network namespace. */
export interface NetemLink {
  /** The server's address in its namespace. */
  host: string;
  /** `ip netns exec <ns>`: how the servers are started inside it. */
  wrap: string[];
  /** Adds `tc netem` delay ± jitter and loss on both ends of the link. */
  impair(o: { delayMs: number; jitterMs: number; lossPct: number }): void;
  /** Removes it. */
  heal(): void;
  destroy(): void;
}

const tc = (args: string[], wrap: string[] = []) => {
  const argv = [...wrap, 'tc', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
};

/**
 * A network namespace made for the servers (test/support/netns.ts: a bridge and a veth on
 * 10.250.x.0/24, nothing leaves the machine) where `tc netem` impairs the link, or the reason
 * it cannot run here (no `ip netns`, no `tc`, no netem, not root): then the benchmark falls
 * back to its TCP proxy's latency and loss and says so.
 */
export function netemLink(): NetemLink | { unavailable: string } {
  let net: TestNetwork;
  try {
    net = createTestNetwork(['srv']);
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
  const h = net.hosts.srv!;
  const link: NetemLink = {
    host: h.ip,
    wrap: h.wrap,
    impair({ delayMs, jitterMs, lossPct }) {
      const spec = ['netem', 'delay', `${delayMs}ms`, `${jitterMs}ms`, 'loss', `${lossPct}%`];
      tc(['qdisc', 'replace', 'dev', h.link, 'root', ...spec]);
      tc(['qdisc', 'replace', 'dev', 'eth0', 'root', ...spec], h.wrap);
    },
    heal() {
      spawnSync('tc', ['qdisc', 'del', 'dev', h.link, 'root']);
      spawnSync(h.wrap[0]!, [...h.wrap.slice(1), 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    },
    destroy: () => net.destroy(),
  };
  try {
    link.impair({ delayMs: 1, jitterMs: 0, lossPct: 0 });
    link.heal();
  } catch (err) {
    net.destroy();
    return { unavailable: (err as Error).message };
  }
  return link;
}
