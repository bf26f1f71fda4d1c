/**
 * `npm run bench -- <scenario> [--peers switchboard,socketio,ws] [--profile] [scenario flags]`
 * Runs a scenario against each peer in turn (servers and load in child processes), prints a
 * table of ratios and writes bench/results/<scenario>-<date>.json.
 */
import { loadavg } from 'node:os';
import { machineInfo } from './lib/machine.ts';
import { table, writeResult } from './lib/report.ts';
import { DEFAULT_PEERS, PEERS, type Peer } from './load/clients.ts';
import { SCENARIOS } from './scenarios/index.ts';
import type { ScenarioContext } from './scenarios/types.ts';

const USAGE = `usage: npm run bench -- <${Object.keys(SCENARIOS).join('|')}> [--peers ${PEERS.join(',')}] [--profile] [flags]
  fanout  [--deflate: plain and permessage-deflate Switchboard side by side] (peers: switchboard, socketio, ws, switchboard-pusher: Pusher protocol 7 subscribers) --subscribers 5000 --rates 4,8,16,… --step 4 (s per rate) --common-rate N --padding 64
  rooms   --clients 10000 --group 10 --rates 1000,2000,… --step 4
  idle    --sizes 10000,50000 --hold 5 (s)
  storm   --clients 10000
  memory  --connections 3000 --rounds 3 --hold 3 (s) --young pinned|default|serve --fit-from N   (Switchboard and bare ws side by side)
  delta   --subscribers 200 --publications 300 --warmup 20 --size 5000 (bytes)   (Switchboard only: plain, delta, each with and without deflate)
  history-flood --connections 50 --parallel 8 --publications 200 --size 30000 (bytes) --seconds 5 --interval 20 (ms) --max-replay (bytes)   (Switchboard only: ping latency idle and under a history read flood)
  hold    --clients 100000 --duration 300 (s) --heartbeat 25000 (ms) --concurrency 200 --workers N|auto --servers N|auto   (Switchboard only unless --peers)
  outbox  --seconds 5 --writers 8 --rate 500 --channels 16 --subscribers 4   (Switchboard only: pgbench's INSERT ceiling, commit-to-delivery p50/p99, sustained rows/s)
  chaos   --seconds 60 (each fault phase; offline 10 s, 2 min, 10 min at 60 and above, the long two scaled below) --settle 60 (s to recover) --faults reset,drop,stall,netem,kill,rolling,redis-restart,failover,offline --rooms 2 --subscribers 6 (per room) --rate 20 (msg/s) --heartbeat (Switchboard's, ms)
  webhooks --events 5000 --keys 1000 --delay 50 (ms) --concurrency 64 --batch 100 --storages memory,sqlite,redis   (Switchboard only: the outbox's ceiling, then delivery to a receiver answering in --delay ms: one at a time, in parallel, batched)
  cluster-publish --seconds 5 --connections 512 --channels 96 --queued 4 --concurrency 512 --topologies one,cluster,postgres   (Switchboard only: backend ceiling vs end to end, one Redis, a 3-primary Redis Cluster, PostgreSQL)`;

/** `--name value` and bare `--flag` (true) after the scenario name. */
export function parseFlags(argv: string[]): { positionals: string[]; values: Record<string, string | boolean> } {
  const positionals: string[] = [];
  const values: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { values[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { values[a.slice(2)] = next; i++; } else values[a.slice(2)] = true;
  }
  return { positionals, values };
}

/** Runs one scenario and returns the path of its result file. */
export async function main(argv: string[]): Promise<string> {
  const { positionals, values } = parseFlags(argv);
  const name = positionals[0];
  const scenario = name ? SCENARIOS[name] : undefined;
  if (!scenario) throw new Error(`${name ? `unknown scenario "${name}"\n` : ''}${USAGE}`);
  const peersArg = typeof values.peers === 'string' ? values.peers : name === 'hold' || name === 'delta' || name === 'cluster-publish' || name === 'history-flood' || name === 'outbox' || name === 'webhooks' ? 'switchboard' : name === 'memory' ? 'switchboard,ws' : values.deflate ? 'switchboard' : name === 'fanout' ? [...DEFAULT_PEERS, 'switchboard-pusher'].join(',') : DEFAULT_PEERS.join(',');
  const peers = peersArg.split(',').map((p) => p.trim()) as Peer[];
  // `--deflate`: Switchboard with permessage-deflate (and clients offering it) runs beside the others.
  if (values.deflate && !peers.includes('switchboard-deflate')) peers.push('switchboard-deflate');
  for (const p of peers) if (!PEERS.includes(p)) throw new Error(`unknown peer "${p}" (known: ${PEERS.join(', ')})`);
  if (values['sio-client'] === 'official') process.env.BENCH_SIO_CLIENT = 'official';
  const machine = machineInfo();
  const quiet = Boolean(values.quiet);
  const t0 = performance.now();
  const ctx: ScenarioContext = {
    peers,
    args: values as Record<string, string | boolean | undefined>,
    profile: Boolean(values.profile),
    heartbeatMs: typeof values.heartbeat === 'string' ? Number(values.heartbeat) : 25_000,
    log: (l) => { if (!quiet) console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${l}`); },
  };
  ctx.log(`${name} on ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage.join(' ')}, open files ${machine.openFileLimit.soft}`);
  const started = Date.now();
  // The machine may be shared: the 1-minute load average every 10 s goes into the result.
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(Math.round(loadavg()[0]! * 100) / 100), 10_000);
  sampler.unref();
  let result;
  try {
    result = await scenario(ctx);
  } finally {
    clearInterval(sampler);
  }
  const file = writeResult(result, machine, { durationSec: Math.round((Date.now() - started) / 1000), loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100), loadSamples, argv });
  if (!quiet) {
    console.log(`\n${table(result, peers)}\n`);
    for (const n of result.notes) console.log(`note: ${n}`);
    console.log(`results: ${file}`);
  }
  return file;
}

if (import.meta.main) {
  // Everything stops by itself: a hard ceiling on the whole run (chaos at full length, --seconds 60, takes about an hour and a half).
  const minutes = process.argv[2] === 'chaos' ? 180 : 60;
  const ceiling = setTimeout(() => { console.error(`bench: run exceeded ${minutes} minutes; stopping`); process.exit(3); }, minutes * 60_000);
  ceiling.unref();
  main(process.argv.slice(2)).then(() => process.exit(0), (err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  });
}
