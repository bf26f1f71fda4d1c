/**
 * `npm run bench -- chaos`: the numbered-message application (a publisher at a fixed rate to
 * rooms, subscribers in each room) on Switchboard, Socket.IO 4 and bare `ws`, each subscriber
 * behind its own fault injector (bench/lib/fault-proxy.ts), through faults of `--seconds`
 * each. Per system and fault: acknowledged publications, how many reached each subscriber
 * exactly once and in order, lost, duplicated, reordered, the time until every subscriber
 * held everything acknowledged, the reconnect storm, server CPU and memory. Writes the table
 * and a plot (PNG) beside the result file. docs/guarantees.md shows the latest numbers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { sleep } from '../../test/support/ports.ts';
import { FaultProxy } from '../lib/fault-proxy.ts';
import { publisher, subscriber, type ChaosPublisher, type ChaosSubscriber } from '../lib/chaos-clients.ts';
import { startSystem, type ChaosPeer, type ChaosSystem, type Topology } from '../lib/chaos-system.ts';
import { cpuMsOf, rssOf } from '../lib/machine.ts';
import { netemLink, type NetemLink } from '../lib/netem.ts';
import { renderChaosPlot } from '../lib/chaos-plot.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

/** Every fault, in the order a run takes them. */
const FAULTS = ['reset', 'drop', 'stall', 'netem', 'kill', 'rolling', 'redis-restart', 'failover', 'offline'] as const;
type Fault = (typeof FAULTS)[number];
const TOPOLOGY: Record<Fault, Topology> = {
  reset: 'one', drop: 'one', stall: 'one', netem: 'one', kill: 'one', offline: 'one',
  rolling: 'redis', 'redis-restart': 'redis', failover: 'sentinel',
};

/** One line of the result file's `results`: a peer under a fault, summed over its subscribers. */
export interface ChaosRow {
  peer: ChaosPeer;
  fault: string;
  /** Acknowledged publications × the subscribers of their room: deliveries owed. */
  acked: number;
  /** Of those, received exactly once and in order. */
  deliveredOnce: number;
  lost: number;
  /** Extra copies received. */
  duplicated: number;
  /** Received after a later number of the same room (first copies only). */
  reordered: number;
  /**
   * From the end of the fault until every subscriber held every acknowledged publication
   * (null: not within `--settle`); offline groups: from the group's return until it held what
   * was acknowledged before it.
   */
  recoverMs: number | null;
  /** Peak new connections per second through the subscribers' injectors (the reconnect storm). */
  stormPerSec: number;
  /** Connections the subscribers opened during the fault and the recovery. */
  connections: number;
  /** Peak CPU of the server processes (% of one core, 1 s samples) and their peak resident memory (MB), fault and recovery. */
  cpuPeakPct: number;
  rssPeakMB: number;
  /** The longest time without any acknowledgement while publishing (the publish outage). */
  publishGapMs: number;
  /** Switchboard only: subscriptions the gateway said it could not recover (`gap`). */
  gaps: number;
}

interface Phase {
  peer: ChaosPeer;
  fault: Fault;
  system: ChaosSystem;
  proxies: FaultProxy[];
  subs: ChaosSubscriber[];
  pub: ChaosPublisher;
  netem?: NetemLink;
  seconds: number;
  log: (l: string) => void;
  /** offline: when each group came back (ms since the epoch). */
  returned: Array<number | undefined>;
}

const pick = <T>(xs: T[], share: number): T[] => xs.filter(() => Math.random() < share);

/** Offline durations (s): 10 s, 2 min and 10 min when `--seconds` ≥ 60; the long two scaled by seconds/60 below. */
function offlineDurations(seconds: number): Record<string, number> {
  const k = Math.min(1, seconds / 60);
  return { 'offline-10s': 10, 'offline-2m': Math.round(120 * k), 'offline-10m': Math.round(600 * k) };
}

/** Runs the fault for its phase; resolves once every fault is lifted. */
async function inject(p: Phase): Promise<void> {
  const S = p.seconds * 1000;
  const nodes = p.system.nodes;
  switch (p.fault) {
    case 'reset':
    case 'drop':
      // Four rounds, each cutting a random third of the subscribers (RST, or silently).
      for (let i = 0; i < 4; i++) {
        await sleep(S / 5);
        for (const x of pick(p.proxies, 1 / 3)) if (p.fault === 'reset') x.rst(); else x.drop();
      }
      await sleep(S / 5);
      return;
    case 'stall': {
      // Each subscriber's connection goes half-open once, for 1–30 s (at most the phase), at a random moment.
      const longest = Math.min(30, p.seconds) * 1000;
      await Promise.all(p.proxies.map(async (x) => {
        const len = 1000 + Math.random() * (longest - 1000);
        await sleep(Math.random() * Math.max(0, S - len));
        x.stall(len);
        await sleep(len);
      }));
      return;
    }
    case 'netem':
      if (p.netem) p.netem.impair({ delayMs: 100, jitterMs: 50, lossPct: 5 });
      else for (const x of p.proxies) x.shape({ delayMs: 100, jitterMs: 50, loss: 0.05 });
      await sleep(S);
      if (p.netem) p.netem.heal();
      else for (const x of p.proxies) x.shape(null);
      return;
    case 'kill':
      await sleep(S / 3);
      p.log(`  SIGKILL ${nodes[0]!.name}, restart`);
      await nodes[0]!.kill();
      await nodes[0]!.start();
      await sleep(S / 3);
      return;
    case 'rolling':
      await sleep(S / 4);
      for (const n of nodes) {
        p.log(`  rolling: SIGTERM ${n.name}, restart`);
        await n.stop();
        await n.start();
        await sleep(S / 4);
      }
      return;
    case 'redis-restart':
      await sleep(S / 3);
      p.log('  SIGKILL redis, restart');
      await p.system.redis!.kill();
      await p.system.redis!.restart();
      await sleep(S / 3);
      return;
    case 'failover':
      await sleep(S / 3);
      p.log('  SIGKILL the Redis primary: Sentinel promotes a replica');
      await p.system.sentinel!.primary.kill();
      await p.system.sentinel!.settled();
      await sleep(S / 3);
      return;
    case 'offline': {
      // Subscribers go offline in three groups (by index in their room) and come back after their time.
      const d = Object.values(offlineDurations(p.seconds));
      await sleep(1000);
      const perRoom = p.subs.filter((s) => s.room === p.subs[0]!.room).length;
      await Promise.all(p.proxies.map(async (x, i) => {
        x.offline(true);
        const g = offlineGroup(i, perRoom);
        await sleep(d[g]! * 1000);
        x.offline(false);
        p.returned[g] = Date.now();
      }));
      return;
    }
  }
}

/** Which offline group a subscriber is in (its index within its room, in thirds). */
function offlineGroup(i: number, perRoom: number): number {
  return Math.floor(((i % perRoom) / perRoom) * 3);
}

/** Counts for some subscribers against the acknowledged publications of their rooms. */
export function countDeliveries(subs: ChaosSubscriber[], acked: Map<string, Set<number>>): Pick<ChaosRow, 'acked' | 'deliveredOnce' | 'lost' | 'duplicated' | 'reordered' | 'gaps'> {
  const r = { acked: 0, deliveredOnce: 0, lost: 0, duplicated: 0, reordered: 0, gaps: 0 };
  for (const s of subs) {
    const owed = acked.get(s.room)!;
    const times = new Map<number, number>();
    const late = new Set<number>();
    let max = 0;
    for (const n of s.arrivals) {
      const c = times.get(n) ?? 0;
      times.set(n, c + 1);
      if (c > 0) { r.duplicated++; continue; }
      if (n < max) { r.reordered++; late.add(n); }
      max = Math.max(max, n);
    }
    r.acked += owed.size;
    for (const n of owed) {
      const c = times.get(n) ?? 0;
      if (c === 0) r.lost++;
      else if (c === 1 && !late.has(n)) r.deliveredOnce++;
    }
    r.gaps += s.gaps;
  }
  return r;
}

/** Share (%) of the acknowledged deliveries that arrived, at this moment. */
function completeness(subs: ChaosSubscriber[], acked: Map<string, Set<number>>): number {
  let owed = 0;
  let have = 0;
  for (const s of subs) {
    const a = acked.get(s.room)!;
    owed += a.size;
    for (const n of a) if (s.distinct.has(n)) have++;
  }
  return owed === 0 ? 100 : Math.round((have / owed) * 10_000) / 100;
}

/** Peak count of timestamps within any one-second window. */
function peakPerSecond(ts: number[]): number {
  const xs = [...ts].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < xs.length; i++) {
    while (xs[i]! - xs[j]! >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

interface RunOptions {
  seconds: number;
  settleSec: number;
  rooms: number;
  perRoom: number;
  rate: number;
  heartbeatMs?: number;
  netem: NetemLink | undefined;
  log: (l: string) => void;
}

/** One peer through one fault: fresh system, clients, the fault, recovery, counts. */
async function runPhase(peer: ChaosPeer, fault: Fault, o: RunOptions): Promise<{ rows: ChaosRow[]; timeline: Array<{ t: number; pct: number }> }> {
  const inNs = fault === 'netem' && o.netem !== undefined;
  const system = await startSystem(peer, TOPOLOGY[fault], { heartbeatMs: o.heartbeatMs, ...(inNs ? { host: o.netem!.host, wrap: o.netem!.wrap } : {}) });
  const proxies: FaultProxy[] = [];
  const subs: ChaosSubscriber[] = [];
  let pub: ChaosPublisher | undefined;
  const pubProxy = await new FaultProxy(system.targets).start();
  try {
    const rooms = Array.from({ length: o.rooms }, (_, i) => `room:r${i}`);
    for (const room of rooms) {
      for (let i = 0; i < o.perRoom; i++) {
        const x = await new FaultProxy(system.targets).start();
        proxies.push(x);
        subs.push(await subscriber(peer, x.port, room, `${room.slice(5)}-s${i}`));
      }
    }
    await withDeadline(Promise.all(subs.map((s) => s.ready)), 60_000, 'every subscriber subscribed');
    pub = await publisher(peer, pubProxy.port, rooms, o.rate);
    const started = Date.now();
    // Samplers: completeness every second; server CPU and memory every second.
    const timeline: Array<{ t: number; pct: number }> = [];
    let cpuPeak = 0;
    let rssPeak = 0;
    let last = new Map<number, number>();
    let lastAt = Date.now();
    const sample = setInterval(() => {
      timeline.push({ t: Math.round((Date.now() - started) / 100) / 10, pct: completeness(subs, pub!.acked) });
      const now = Date.now();
      const cur = new Map<number, number>();
      let used = 0;
      let rss = 0;
      for (const pid of system.pids()) {
        try {
          const c = cpuMsOf(pid);
          cur.set(pid, c);
          used += c - (last.get(pid) ?? c);
          rss += rssOf(pid);
        } catch { /* exited between the list and the read */ }
      }
      cpuPeak = Math.max(cpuPeak, (used / Math.max(1, now - lastAt)) * 100);
      rssPeak = Math.max(rssPeak, rss);
      last = cur;
      lastAt = now;
    }, 1000);
    const connectsBefore = proxies.map((x) => x.connects.length);
    // offline: each group's recovery, from its return until it holds what was acknowledged before it.
    const returned: Array<number | undefined> = [];
    const groupRecoverMs: Array<number | null> = [null, null, null];
    const owedAtReturn: Array<Map<string, number[]> | undefined> = [];
    const groupOf = (i: number) => offlineGroup(i, o.perRoom);
    const watch = setInterval(() => {
      for (let g = 0; g < 3; g++) {
        if (returned[g] === undefined || groupRecoverMs[g] !== null) continue;
        owedAtReturn[g] ??= new Map([...pub!.acked].map(([room, set]) => [room, [...set]]));
        const caughtUp = subs.every((sub, i) => groupOf(i) !== g || owedAtReturn[g]!.get(sub.room)!.every((n) => sub.distinct.has(n)));
        if (caughtUp) groupRecoverMs[g] = Date.now() - returned[g]!;
      }
    }, 100);
    o.log(`${peer} / ${fault}: ${subs.length} subscribers in ${rooms.length} rooms, ${o.rate} msg/s, ${system.topology}${inNs ? ' (servers in a network namespace, tc netem)' : fault === 'netem' ? ' (TCP proxy latency and loss)' : ''}`);
    await inject({ peer, fault, system, proxies, subs, pub, netem: inNs ? o.netem : undefined, seconds: o.seconds, log: o.log, returned });
    pub.stopNew();
    const ended = Date.now();
    // Recovery: every subscriber holds everything acknowledged, nothing left in flight (bounded by --settle).
    let recoverMs: number | null = null;
    const deadline = ended + o.settleSec * 1000;
    while (Date.now() < deadline) {
      if (pub.pending() === 0 && completeness(subs, pub.acked) === 100) { recoverMs = Date.now() - ended; break; }
      await sleep(100);
    }
    // Late copies (a duplicate on its way) get a moment to show up before counting.
    await sleep(recoverMs === null ? 0 : 1000);
    clearInterval(sample);
    clearInterval(watch);
    timeline.push({ t: Math.round((Date.now() - started) / 100) / 10, pct: completeness(subs, pub.acked) });
    const connects = proxies.flatMap((x, i) => x.connects.slice(connectsBefore[i]));
    const acks = pub.ackedAt.filter((t) => t <= ended);
    const publishGapMs = Math.max(0, ...acks.map((t, i) => (i === 0 ? 0 : t - acks[i - 1]!)), ended - (acks.at(-1) ?? started));
    const common = { recoverMs, publishGapMs, stormPerSec: peakPerSecond(connects), connections: connects.length, cpuPeakPct: Math.round(cpuPeak), rssPeakMB: Math.round(rssPeak / 1048576) };
    const rows: ChaosRow[] = [];
    if (fault === 'offline') {
      const names = Object.keys(offlineDurations(o.seconds));
      for (let g = 0; g < 3; g++) {
        const mine = subs.filter((_, i) => groupOf(i) === g);
        // A group that never got everything owed to it did not recover, whatever the time.
        const done = completeness(mine, pub.acked) === 100;
        rows.push({ peer, fault: names[g]!, ...countDeliveries(mine, pub.acked), ...common, recoverMs: done ? (groupRecoverMs[g] ?? Date.now() - returned[g]!) : null });
      }
    } else rows.push({ peer, fault, ...countDeliveries(subs, pub.acked), ...common });
    for (const r of rows) o.log(`  ${r.fault}: acked ${r.acked}, once ${r.deliveredOnce}, lost ${r.lost}, dup ${r.duplicated}, reordered ${r.reordered}, recover ${r.recoverMs ?? 'never'} ms, publish gap ${r.publishGapMs} ms, storm ${r.stormPerSec}/s, cpu ${r.cpuPeakPct}%, rss ${r.rssPeakMB} MB`);
    return { rows, timeline };
  } finally {
    pub?.close();
    for (const s of subs) s.close();
    await Promise.all([...proxies, pubProxy].map((x) => x.close()));
    await system.stop();
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`chaos: no ${what} within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

const pct = (r: ChaosRow) => (r.acked === 0 ? null : Math.round((r.deliveredOnce / r.acked) * 10_000) / 100);

/** The Markdown table of a run's rows. */
function chaosTable(rows: ChaosRow[]): string {
  const head = ['fault', 'peer', 'acked', 'delivered once', 'lost', 'duplicated', 'reordered', 'recover', 'publish gap', 'storm (conn/s)', 'conns', 'server CPU peak', 'server RSS peak'];
  const line = (c: Array<string | number>) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map((r) => line([
    r.fault, r.peer, r.acked, `${r.deliveredOnce} (${pct(r) ?? '—'} %)`, r.lost, r.duplicated, r.reordered,
    r.recoverMs === null ? 'never' : `${(r.recoverMs / 1000).toFixed(1)} s`, `${(r.publishGapMs / 1000).toFixed(1)} s`, r.stormPerSec, r.connections, `${r.cpuPeakPct} %`, `${r.rssPeakMB} MB`,
  ]))].join('\n');
}

export async function chaos(ctx: ScenarioContext): Promise<ScenarioResult> {
  const seconds = num(ctx, 'seconds', 60);
  const o: RunOptions = {
    seconds,
    settleSec: num(ctx, 'settle', 60),
    rooms: num(ctx, 'rooms', 2),
    perRoom: num(ctx, 'subscribers', 6),
    rate: num(ctx, 'rate', 20),
    heartbeatMs: typeof ctx.args.heartbeat === 'string' ? Number(ctx.args.heartbeat) : undefined,
    netem: undefined,
    log: ctx.log,
  };
  const faults = (typeof ctx.args.faults === 'string' ? ctx.args.faults.split(',') : [...FAULTS]) as Fault[];
  for (const f of faults) if (!FAULTS.includes(f)) throw new Error(`unknown fault "${f}" (known: ${FAULTS.join(', ')})`);
  const peers = ctx.peers.filter((p): p is ChaosPeer => p === 'switchboard' || p === 'socketio' || p === 'ws');
  const notes: string[] = [];
  let netemMode = 'not run';
  if (faults.includes('netem')) {
    const link = netemLink();
    if ('unavailable' in link) netemMode = `TCP proxy (tc netem unavailable: ${link.unavailable.slice(0, 200)})`;
    else { o.netem = link; netemMode = 'tc netem in a network namespace made by the bench (servers inside, 100 ± 50 ms and 5 % loss both ways)'; }
    notes.push(`netem: ${netemMode}`);
  }
  const rows: ChaosRow[] = [];
  const timelines: Array<{ peer: ChaosPeer; fault: Fault; t: number; pct: number }> = [];
  try {
    for (const fault of faults) {
      for (const peer of peers) {
        const r = await runPhase(peer, fault, o);
        rows.push(...r.rows);
        for (const p of r.timeline) timelines.push({ peer, fault, ...p });
      }
    }
  } finally {
    o.netem?.destroy();
  }
  const when = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = new URL('../results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const table = chaosTable(rows);
  const png = `${dir}chaos-${when}.png`;
  writeFileSync(`${dir}chaos-${when}.md`, `# npm run bench -- chaos ${ctx.args.seconds !== undefined ? `--seconds ${seconds}` : ''}\n\n${table}\n\nnetem: ${netemMode}\n`);
  writeFileSync(png, await renderChaosPlot(rows, timelines));
  ctx.log(`\n${table}\n`);
  ctx.log(`table: ${dir}chaos-${when}.md; plot: ${png}`);
  const comparisons: Comparison[] = rows.filter((r) => r.peer === peers[0]).map((r) => ({
    metric: `delivered once, ${r.fault}`,
    unit: '%',
    higherIsBetter: true,
    values: Object.fromEntries(peers.map((p) => [p, pct(rows.find((x) => x.peer === p && x.fault === r.fault)!)])),
  }));
  notes.push(`offline durations (s): ${JSON.stringify(offlineDurations(seconds))} (10 s, 2 min, 10 min from --seconds 60 on)`);
  return {
    scenario: 'chaos',
    params: { ...o, netem: netemMode, faults, offline: offlineDurations(seconds), table: `${dir}chaos-${when}.md`, plot: png },
    peers: Object.fromEntries(peers.map((p) => [p, rows.filter((r) => r.peer === p)])),
    results: rows.map(({ peer, fault, acked, deliveredOnce, lost, duplicated, reordered, recoverMs }) => ({ peer, fault, acked, deliveredOnce, lost, duplicated, reordered, recoverMs })),
    detail: rows,
    timelines,
    comparisons,
    notes,
  };
}
