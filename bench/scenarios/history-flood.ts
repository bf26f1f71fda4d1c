import WebSocket from 'ws';
import { mintToken } from '../../packages/server/src/auth/mint.ts';
import { SECRET, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import { Histogram, type LatencySummary } from '../lib/histogram.ts';
import { cpuMsOf, rssOf } from '../lib/machine.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

const CHANNEL = 'hist:flood';

/** The server's event-loop delay over a phase (ms; `monitorEventLoopDelay`). */
interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Opens a raw protocol connection (token in the URL) and resolves once authenticated. */
async function open(base: string, user: string): Promise<WebSocket> {
  const token = await mintToken({ sub: user, secret: SECRET, ttlSec: 3600 });
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    const onMessage = (data: Buffer) => {
      if (!data.includes('"type":"auth_success"')) return reject(new Error(`authentication failed: ${data}`));
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
  });
  // Server pings are answered, so a long phase never ends in `no_pong`.
  ws.on('message', (data: Buffer) => { if (data.includes('"type":"ping"')) ws.send('{"type":"pong"}'); });
  return ws;
}

/** Fills the channel: `count` publications of about `size` bytes, each after the previous ack. */
async function fill(ws: WebSocket, count: number, size: number): Promise<void> {
  const pad = 'z'.repeat(size);
  for (let n = 1; n <= count; n++) {
    await new Promise<void>((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const f = JSON.parse(data.toString());
        if (f.id !== n) return;
        ws.off('message', onMessage);
        if (f.type === 'ack') resolve();
        else reject(new Error(`publish refused: ${data}`));
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ type: 'publish', id: n, channel: CHANNEL, data: { n, pad } }));
    });
  }
}

/** Pings every `intervalMs` for `seconds`; the round trips' percentiles. */
async function probe(ws: WebSocket, seconds: number, intervalMs: number): Promise<LatencySummary> {
  const h = new Histogram();
  const sent = new Map<string, number>();
  const onMessage = (data: Buffer) => {
    if (!data.includes('"type":"pong"')) return;
    const id = (JSON.parse(data.toString()) as { id?: string }).id;
    const t = id === undefined ? undefined : sent.get(id);
    if (t === undefined) return;
    sent.delete(id!);
    h.record((performance.now() - t) * 1000);
  };
  ws.on('message', onMessage);
  const end = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    sent.set(`p${i}`, performance.now());
    ws.send(JSON.stringify({ type: 'ping', id: `p${i}` }));
    await sleep(intervalMs);
  }
  // The last pings' answers (a ping still unanswered after 10 s counts as 10 s).
  const deadline = performance.now() + 10_000;
  while (sent.size > 0 && performance.now() < deadline) await sleep(10);
  for (const [, t] of sent) h.record((performance.now() - t) * 1000);
  ws.off('message', onMessage);
  return h.summaryMs();
}

/** A flood reader: keeps `parallel` `history` commands in flight, re-asking as each is answered. */
class Reader {
  replies = 0;
  bytes = 0;
  maxReply = 0;
  errors = 0;
  private stopped = false;
  private seq = 0;
  private readonly ws: WebSocket;

  constructor(ws: WebSocket, parallel: number) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      // Replies are not parsed (the load generator must not be the bottleneck): the frame's head says what it is.
      const head = data.subarray(0, 24).toString();
      if (head.startsWith('{"type":"ack"')) {
        this.replies++;
        this.bytes += data.length;
        if (data.length > this.maxReply) this.maxReply = data.length;
        this.ask();
      } else if (head.startsWith('{"type":"error"')) {
        this.errors++;
        this.ask();
      }
    });
    for (let i = 0; i < parallel; i++) this.ask();
  }

  private ask(): void {
    if (this.stopped || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ type: 'history', id: ++this.seq, channel: CHANNEL, limit: 1000 }));
  }

  stop(): void {
    this.stopped = true;
  }
}

/**
 * `history-flood`: ping round trips of one client while `--connections` (50) others each keep
 * `--parallel` (8) `history` reads of the whole channel in flight (`--publications` 200 of
 * `--size` 30,000 bytes: 6 MB of history), against the same probe with the gateway idle.
 * Each phase lasts `--seconds` (5); the probe pings every `--interval` ms (20). Reports ping
 * p50/p99 idle and under the flood, replies and bytes served, the largest reply and the
 * server's RSS. `--max-replay` bytes sets the server's `limits.maxReplayBytes` (default: its
 * own, 1 MiB). Switchboard only (issue 13, defect 4).
 */
export async function historyFlood(ctx: ScenarioContext): Promise<ScenarioResult> {
  const connections = num(ctx, 'connections', 50);
  const parallel = num(ctx, 'parallel', 8);
  const publications = num(ctx, 'publications', 200);
  const size = num(ctx, 'size', 30_000);
  const seconds = num(ctx, 'seconds', 5);
  const interval = num(ctx, 'interval', 20);
  assertFdBudget(connections + 20);
  if (ctx.peers.some((p) => p !== 'switchboard')) ctx.log('history-flood: Switchboard only (the other peers keep no history)');
  const maxReplay = num(ctx, 'max-replay', 0);
  const server = new ServerUnderTest('switchboard', ctx, maxReplay > 0 ? { env: { BENCH_MAX_REPLAY: String(maxReplay) } } : {});
  await server.start();
  const sockets: WebSocket[] = [];
  let idle: LatencySummary;
  let flood: LatencySummary;
  let readers: Reader[] = [];
  let loopIdle: LoopDelay = { p50: 0, p99: 0, max: 0 };
  let loopFlood: LoopDelay = { p50: 0, p99: 0, max: 0 };
  let rssIdle = 0;
  let rssPeak = 0;
  let floodSeconds = 0;
  let cpuMs = 0;
  try {
    const pub = await open(server.base, 'bench-writer');
    sockets.push(pub);
    ctx.log(`history-flood: filling ${CHANNEL} with ${publications} publications of ${size} bytes`);
    await fill(pub, publications, size);
    const prober = await open(server.base, 'bench-probe');
    sockets.push(prober);
    ctx.log(`history-flood: idle, ping every ${interval} ms for ${seconds} s`);
    rssIdle = rssOf(server.child.pid!);
    await server.child.call('eventLoop', { reset: true }, 10_000);
    idle = await probe(prober, seconds, interval);
    loopIdle = await server.child.call('eventLoop', { reset: true }, 10_000);
    ctx.log(`  idle ping p50 ${idle.p50} ms, p99 ${idle.p99} ms, max ${idle.max} ms; server event-loop delay p50 ${loopIdle.p50} ms, p99 ${loopIdle.p99} ms, max ${loopIdle.max} ms`);

    const flooders = await Promise.all(Array.from({ length: connections }, (_, i) => open(server.base, `bench-reader-${i}`)));
    sockets.push(...flooders);
    ctx.log(`history-flood: ${connections} connections × ${parallel} history reads in flight, ping every ${interval} ms for ${seconds} s`);
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssOf(server.child.pid!)); }, 100);
    const t0 = performance.now();
    const cpu0 = cpuMsOf(server.child.pid!);
    readers = flooders.map((ws) => new Reader(ws, parallel));
    try {
      flood = await probe(prober, seconds, interval);
    } finally {
      floodSeconds = (performance.now() - t0) / 1000;
      cpuMs = cpuMsOf(server.child.pid!) - cpu0;
      for (const r of readers) r.stop();
      clearInterval(sampler);
    }
    rssPeak = Math.max(rssPeak, rssOf(server.child.pid!));
    loopFlood = await server.child.call('eventLoop', { reset: true }, 30_000);
    ctx.log(`  flood ping p50 ${flood.p50} ms, p99 ${flood.p99} ms, max ${flood.max} ms; server event-loop delay p50 ${loopFlood.p50} ms, p99 ${loopFlood.p99} ms, max ${loopFlood.max} ms`);
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
  const replies = readers.reduce((n, r) => n + r.replies, 0);
  const bytes = readers.reduce((n, r) => n + r.bytes, 0);
  const maxReply = readers.reduce((n, r) => Math.max(n, r.maxReply), 0);
  const errors = readers.reduce((n, r) => n + r.errors, 0);
  const cpuPerMB = bytes > 0 ? Math.round((cpuMs / (bytes / 1e6)) * 100) / 100 : 0;
  ctx.log(`  ${replies} replies (${(bytes / 1e6).toFixed(0)} MB, largest ${maxReply} bytes, ${errors} errors) in ${floodSeconds.toFixed(1)} s, server CPU ${cpuPerMB} ms per MB served; server RSS ${(rssIdle / 2 ** 20).toFixed(0)} MiB idle, ${(rssPeak / 2 ** 20).toFixed(0)} MiB peak`);
  const metric = (name: string, unit: string, value: number, higherIsBetter = false): Comparison => ({ metric: name, unit, higherIsBetter, values: { switchboard: value } });
  return {
    scenario: 'history-flood',
    params: { connections, parallel, publications, size, seconds, interval, maxReplay: maxReplay || 'default' },
    peers: { switchboard: { idle: idle!, flood: flood!, loopIdle, loopFlood, replies, bytes, maxReply, errors, rssIdle, rssPeak, floodSeconds, cpuMs } },
    comparisons: [
      metric('ping p50, idle', 'ms', idle!.p50),
      metric('ping p99, idle', 'ms', idle!.p99),
      metric('ping p50, history flood', 'ms', flood!.p50),
      metric('ping p99, history flood', 'ms', flood!.p99),
      metric('ping max, history flood', 'ms', flood!.max),
      metric('server event-loop delay p99, idle', 'ms', loopIdle.p99),
      metric('server event-loop delay p99, history flood', 'ms', loopFlood.p99),
      metric('server event-loop delay max, history flood', 'ms', loopFlood.max),
      metric('history replies per second', '/s', Math.round(replies / floodSeconds), true),
      metric('history bytes served per second', 'MB/s', Math.round(bytes / floodSeconds / 1e5) / 10, true),
      metric('largest history reply', 'B', maxReply),
      metric('server CPU per MB of history served', 'ms', cpuPerMB),
      metric('server RSS, idle', 'MiB', Math.round(rssIdle / 2 ** 20)),
      metric('server RSS, peak under the flood', 'MiB', Math.round(rssPeak / 2 ** 20)),
    ],
    notes: [
      `${connections} connections each keep ${parallel} \`history\` reads of ${CHANNEL} (${publications} × ${size} bytes) in flight, asking again as each is answered; one more client pings every ${interval} ms, ${seconds} s idle then ${seconds} s under the flood`,
      `the flood readers and the probe share the bench process (replies are not parsed); the server runs alone in its child process with default limits (maxReplayBytes ${maxReplay || '1 MiB'}, historyReadsInFlight 16)`,
    ],
  };
}
