import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, waitFor } from './ports.ts';

/** Where Debian's package puts `nats-server` (not on every user's PATH). */
function natsServerBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) if (existsSync(p)) return p;
  if (spawnSync('nats-server', ['--version']).status === 0) return 'nats-server';
  throw new Error('nats-server is not installed: run the README test command (npm test), which installs it (Debian package nats-server)');
}

/** One `nats-server` of a test cluster. */
interface NatsNode {
  name: string;
  /** Client port. */
  port: number;
  /** Address clients use (`nats://host:port`). */
  url: string;
  /** SIGKILL (a crash); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again with the same ports and JetStream directory (after `kill`). */
  restart(): Promise<void>;
  alive(): boolean;
}

/** A JetStream cluster of `nats-server` processes the test started. */
export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL, comma-separated (the `nats` setting). */
  url: string;
  /** Kills every node and removes their JetStream directories. */
  stop(): Promise<void>;
}

interface NodeSpec {
  name: string;
  host: string;
  port: number;
  clusterPort: number;
  wrap: string[];
}

/**
 * Starts `size` (default 3) `nats-server` processes with JetStream, each on free ports with a
 * JetStream directory of its own, routed to each other as one cluster, and waits until
 * JetStream answers (a meta leader was elected). `hosts[i]`/`wraps[i]` run node i on another
 * address or in a network namespace (`ip netns exec …`). A single node (`size: 1`) runs
 * without a cluster.
 */
export async function startNatsCluster(o: { size?: number; hosts?: string[]; wraps?: string[][] } = {}): Promise<NatsCluster> {
  const bin = natsServerBinary();
  const size = o.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'sb-nats-'));
  const specs: NodeSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({ name: `n${i + 1}`, host: o.hosts?.[i] ?? '127.0.0.1', port: await freePort(), clusterPort: await freePort(), wrap: o.wraps?.[i] ?? [] });
  }
  const routes = specs.map((s) => `nats://${s.host}:${s.clusterPort}`).join(',');
  // A server (or a route) that stops answering is given up after ~3 s, not minutes: partitions
  // in the tests heal within seconds, and routes must notice both.
  writeFileSync(join(dir, 'ping.conf'), 'ping_interval: "1s"\nping_max: 3\n');
  const nodes = specs.map((s) => {
    let proc: ChildProcess | undefined;
    const args = ['-c', join(dir, 'ping.conf'), '-a', s.host, '-p', String(s.port), '-n', s.name, '-js', '-sd', join(dir, s.name)];
    if (size > 1) args.push('--cluster_name', 'sb', '--cluster', `nats://${s.host}:${s.clusterPort}`, '--routes', routes);
    const url = `nats://${s.host}:${s.port}`;
    const node: NatsNode = {
      name: s.name,
      port: s.port,
      url,
      alive: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
      async restart() {
        const [cmd, ...rest] = [...s.wrap, bin, ...args];
        const p = spawn(cmd!, rest, { stdio: 'ignore' });
        proc = p;
        await waitFor(async () => {
          if (p.exitCode !== null) throw new Error(`nats-server ${s.name} exited with ${p.exitCode}`);
          const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
          try {
            await nc.flush();
            return true;
          } finally {
            await nc.close();
          }
        }, 20_000, `nats-server ${s.name} on ${s.port}`);
      },
      async kill() {
        const p = proc;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      },
    };
    return node;
  });
  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.restart()));
    await jetStreamReady(cluster.url, size);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Waits until JetStream can place a stream on `replicas` servers (a meta leader, every peer known). */
async function jetStreamReady(url: string, replicas: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const nc = await connect({ servers: url.split(','), reconnect: false, timeout: 1000 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      const name = `ready_${Date.now().toString(36)}`;
      await jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: replicas });
      await jsm.streams.delete(name);
      return true;
    } finally {
      await nc.close();
    }
  }, timeoutMs, 'JetStream to place a stream on every server');
}
