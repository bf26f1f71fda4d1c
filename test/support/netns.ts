import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One host of a test network: a network namespace with one address on the test bridge. */
interface NetHost {
  name: string;
  /** The namespace (`ip netns`). */
  ns: string;
  ip: string;
  /** Prefix for a command run on this host: `ip netns exec <ns>`. */
  wrap: string[];
  /** The host's veth on the bridge, in the machine's namespace (its peer is `eth0` inside). */
  link: string;
}

export interface TestNetwork {
  hosts: Record<string, NetHost>;
  /** Cuts the link between two hosts, both ways (blackhole routes in each namespace). */
  cut(a: string, b: string): void;
  /** Heals a link `cut` made. */
  heal(a: string, b: string): void;
  /** Cuts `a` from every other host (not from the machine's own namespace, where the test runs). */
  isolate(a: string): void;
  /** Removes the namespaces and the bridge (after the processes in them are gone). */
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Throws, saying what is missing, when this machine cannot make network namespaces. */
function requireNetns(): void {
  if (spawnSync('ip', ['netns', 'list']).status !== 0) throw new Error('iproute2 (`ip netns`) is missing or not permitted: the partition tests need it and root');
}

/**
 * A network of hosts, each in a network namespace made by the test, joined by one bridge in
 * the machine's namespace (which reaches every host: that is where the test itself runs).
 * Addresses are in 10.250.<n>.0/24, `n` random per network; nothing leaves the machine. A
 * link between two hosts is cut with blackhole routes (no iptables needed) and healed by
 * deleting them; packets to a cut host are dropped, so a cut looks like a partition (no
 * reset, timeouts), not a crash.
 */
export function createTestNetwork(names: string[]): TestNetwork {
  requireNetns();
  const id = randomBytes(3).toString('hex');
  const subnet = 10 + (randomBytes(1)[0]! % 240);
  const bridge = `sbbr${id}`;
  const hosts: Record<string, NetHost> = {};
  const made: string[] = [];
  const destroy = () => {
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', bridge]);
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `10.250.${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    names.forEach((name, i) => {
      const ns = `sb-${id}-${name}`;
      const veth = `sbv${id}${i}`;
      const address = `10.250.${subnet}.${10 + i}`;
      ip('netns', 'add', ns);
      made.push(ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', veth, 'master', bridge, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'route', 'add', 'default', 'via', `10.250.${subnet}.1`);
      hosts[name] = { name, ns, ip: address, wrap: ['ip', 'netns', 'exec', ns], link: veth };
    });
  } catch (err) {
    destroy();
    throw err;
  }
  const host = (n: string) => {
    const h = hosts[n];
    if (!h) throw new Error(`no host ${n}`);
    return h;
  };
  const route = (verb: 'add' | 'del', from: NetHost, to: NetHost) => spawnSync('ip', ['-n', from.ns, 'route', verb, 'blackhole', `${to.ip}/32`]);
  return {
    hosts,
    cut(a, b) {
      route('add', host(a), host(b));
      route('add', host(b), host(a));
    },
    heal(a, b) {
      route('del', host(a), host(b));
      route('del', host(b), host(a));
    },
    isolate(a) {
      for (const b of names) if (b !== a) this.cut(a, b);
    },
    destroy,
  };
}
