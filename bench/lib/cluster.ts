import { mkdirSync } from 'node:fs';
import { Child } from './child.ts';
import { Histogram, type LatencySummary } from './histogram.ts';
import { openFileLimit, RAISE_LIMIT_HELP } from './machine.ts';
import type { Peer } from '../load/clients.ts';
import type { ChannelRule, PublishTarget } from '../load/channels.ts';

const SERVER = (name: string) => new URL(`../servers/${name}.ts`, import.meta.url).href;
const WORKER = new URL('../load/worker.ts', import.meta.url).href;
export const SECRET = 'bench-secret-0123456789abcdef';

/**
 * Clients per source address: each loopback address gives ~28k ephemeral ports, and the
 * ports of closed connections stay in TIME_WAIT for a minute, so runs leave room.
 */
const PER_ADDRESS = 10_000;
// Moves 11 addresses every 10 s, so back-to-back runs do not start on the same addresses.
let nextAddress = (Math.floor(Date.now() / 10_000) * 11) % 253;
/** File descriptors a process keeps for itself beyond its sockets. */
const FD_RESERVE = 1500;

/** Options common to every scenario run. */
export interface RunOptions {
  /** Write a V8 CPU profile of the server under test to bench/results/prof/. */
  profile: boolean;
  /** Server heartbeat interval (Switchboard), ms. */
  heartbeatMs: number;
  log: (line: string) => void;
}

/** A server under test in its own process. */
export class ServerUnderTest {
  readonly peer: Peer;
  child!: Child;
  port = 0;
  private readonly o: RunOptions;
  /** Server script under bench/servers/ (default: the peer's), extra environment and extra Node flags. */
  private readonly variant: { module?: string; env?: Record<string, string>; execArgv?: string[] };

  constructor(peer: Peer, o: RunOptions, variant: { module?: string; env?: Record<string, string>; execArgv?: string[] } = {}) {
    this.peer = peer;
    this.o = o;
    this.variant = variant;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts on the same port) and waits for `ready`. */
  async start(): Promise<void> {
    const execArgv = ['--expose-gc', '--max-old-space-size=8192', ...(this.variant.execArgv ?? [])];
    if (this.o.profile) {
      const dir = new URL('../results/prof/', import.meta.url).pathname;
      mkdirSync(dir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${this.peer}-${Date.now()}.cpuprofile`);
    }
    this.child = new Child(`${this.peer}-server`, SERVER(this.variant.module ?? this.peer), {
      execArgv,
      env: { BENCH_PORT: String(this.port), BENCH_SECRET: SECRET, BENCH_HEARTBEAT_MS: String(this.o.heartbeatMs), ...this.variant.env },
    });
    const ready = await this.child.waitEvent((e) => e.ev === 'ready', 30_000, 'server ready');
    this.port = ready.port as number;
  }

  /** Memory after a full GC. */
  mem(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }> {
    return this.child.call('mem', {}, 30_000);
  }

  /** Touches every page of the young generation (see bench/scenarios/memory.ts). */
  async warm(): Promise<void> {
    await this.child.call('warm', {}, 60_000);
  }

  /** Graceful stop (each server's own shutdown), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    if (this.o.profile) {
      // --cpu-prof writes on a normal exit: ask the process to stop itself.
      await this.child.call('stop', {}, 20_000).catch(() => {});
      const t = setTimeout(() => void this.child.kill(), 20_000);
      await this.child.exited;
      clearTimeout(t);
      return;
    }
    await this.child.stop(15_000);
  }
}

/** Load workers holding `total` clients between them. */
export class LoadWorkers {
  readonly workers: Child[] = [];
  readonly total: number;

  constructor(total: number, minWorkers = 2) {
    const perWorker = Math.max(100, Math.min(20_000, openFileLimit().soft - FD_RESERVE));
    const n = Math.max(minWorkers, Math.ceil(total / perWorker));
    this.total = total;
    for (let i = 0; i < n; i++) this.workers.push(new Child(`load-${i}`, WORKER, { execArgv: ['--max-old-space-size=4096'] }));
  }

  /**
   * Source addresses for `total` clients, from 127.0.0.2 up to 127.0.0.254. Every call
   * takes the next unused addresses of that range (from a start that moves with the clock), so
   * the TIME_WAIT ports left by earlier connections do not exhaust the ephemeral range.
   */
  static addresses(total: number): string[] {
    const n = Math.max(1, Math.ceil(total / PER_ADDRESS));
    if (n > 253) throw new Error('too many clients for 127.0.0.2–127.0.0.254');
    const start = nextAddress;
    nextAddress = (nextAddress + n) % 253;
    return Array.from({ length: n }, (_, i) => `127.0.0.${2 + ((start + i) % 253)}`);
  }

  /** Connects every client (split evenly); resolves with merged results. */
  async connect(o: { peer: Peer; base: string; rule: ChannelRule; reconnect: boolean; concurrency: number; timeoutMs: number; /** Global index of this group's first client (users and addresses). */ offset?: number }): Promise<{ ready: number; unexpected: number; closeCodes: Record<string, number>; ms: number; readyTimes: LatencySummary }> {
    assertLoopback(o.base);
    const per = Math.ceil(this.total / this.workers.length);
    const offset = o.offset ?? 0;
    const addresses = LoadWorkers.addresses(this.total);
    const results = await Promise.all(this.workers.map((w, i) => {
      const from = offset + i * per;
      const count = Math.max(0, Math.min(per, offset + this.total - from));
      return w.call('connect', { ...o, secret: SECRET, from, count, addresses, perAddress: PER_ADDRESS, addressBase: offset }, o.timeoutMs + 60_000);
    }));
    const h = new Histogram();
    const closeCodes: Record<string, number> = {};
    for (const r of results) {
      h.addSerialized(r.readyTimes);
      for (const [k, v] of Object.entries(r.closeCodes as Record<string, number>)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
    }
    return {
      ready: sum(results.map((r) => r.ready)),
      unexpected: sum(results.map((r) => r.unexpected)),
      closeCodes,
      ms: Math.max(...results.map((r) => r.ms)),
      readyTimes: h.summaryMs(),
    };
  }

  async reset(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call('reset')));
  }

  /** Deliveries, merged latency histogram and disconnects over all workers. */
  async stats(): Promise<{ delivered: number; hist: Histogram; unexpected: number; closeCodes: Record<string, number>; ready: number; rss: number; cpuMs: number }> {
    const rs = await Promise.all(this.workers.map((w) => w.call('stats')));
    const hist = new Histogram();
    const closeCodes: Record<string, number> = {};
    for (const r of rs) {
      hist.addSerialized(r.hist);
      for (const [k, v] of Object.entries(r.closeCodes as Record<string, number>)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
    }
    return { delivered: sum(rs.map((r) => r.delivered)), hist, unexpected: sum(rs.map((r) => r.unexpected)), closeCodes, ready: sum(rs.map((r) => r.ready)), rss: sum(rs.map((r) => r.rss)), cpuMs: sum(rs.map((r) => r.cpuMs)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      await w.call('close', {}, 10_000).catch(() => {});
      const t = setTimeout(() => void w.kill(), 5_000);
      await w.exited;
      clearTimeout(t);
    }));
  }
}

/** The publisher, in a process of its own so receiving load cannot skew its schedule. */
export class Publisher {
  readonly child = new Child('publisher', WORKER);

  run(o: { peer: Peer; base: string; rate: number; durationMs: number; target: PublishTarget; padding: number }): Promise<{ published: number; expected: number; ms: number }> {
    assertLoopback(o.base);
    return this.child.call('publish', { ...o, secret: SECRET, localAddress: '127.0.0.1' }, o.durationMs + 30_000);
  }

  async close(): Promise<void> {
    await this.child.call('close', {}, 5_000).catch(() => {});
    const t = setTimeout(() => void this.child.kill(), 5_000);
    await this.child.exited;
    clearTimeout(t);
  }
}

/** Only loopback targets: the harness never loads another machine. */
function assertLoopback(base: string): void {
  const host = new URL(base).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host)) throw new Error(`refusing to load ${host}: only 127.0.0.0/8 targets`);
}

/** Checks that `n` connections fit the open-file limits; throws with what to do. */
export function assertFdBudget(n: number): void {
  const { soft } = openFileLimit();
  if (n + FD_RESERVE > soft) {
    throw new Error(`${n} connections need ${n + FD_RESERVE} file descriptors in the server process; RLIMIT_NOFILE is ${soft}. ${RAISE_LIMIT_HELP}`);
  }
}

/** The largest connection count one server process can hold under the current limit. */
export function maxConnections(): number {
  return openFileLimit().soft - FD_RESERVE;
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
