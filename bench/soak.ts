/**
 * Soak: steady publish load with connection churn against a real gateway process, for as
 * long as asked (`npm run soak -- --minutes 30`). Prints the gateway's memory and the
 * publish-to-receive latency every interval, then checks every acknowledged publication
 * against every long-lived subscriber. Subscribers keep their position by the documented rule
 * (the `epoch` and `offset` of the last message received, the ack's until one arrives) and
 * recover with it. Exits 1 when an acknowledged publication is missing (lost), when a
 * recovery answered `recovered: false` (counted apart: the gateway said what it could not
 * replay), when one arrived twice, or when the gateway's heap kept growing once the
 * idempotency window (`dedupWindow`) is full. `--inject loss,stale` makes one subscriber drop
 * one message and recover once from a wrong epoch: the run must then fail (the suite checks).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startGatewayProcess } from '../test/support/gateway-process.ts';
import { mintToken } from '../packages/server/src/index.ts';
import { ChannelState, SoakClient, type Position } from './lib/soak-subscriber.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '100' }, // publications per second, all channels
    channels: { type: 'string', default: '5' },
    subscribers: { type: 'string', default: '20' }, // long-lived, checked for loss
    churn: { type: 'string', default: '10' }, // short-lived connections at any time
    'report-every': { type: 'string', default: '60' }, // seconds
    'kill-every': { type: 'string', default: '15' }, // seconds: drop a long-lived subscriber's socket, it recovers
    inject: { type: 'string', default: '' }, // faults in the harness's own subscribers: loss, stale
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const CHANNELS = Array.from({ length: Number(args.channels) }, (_, i) => `soak:c${i}`);
const SECRET = 'soak-secret-0123456789abcdef';
const REPORT_MS = Number(args['report-every']) * 1000;
const INJECT = new Set(args.inject.split(',').filter(Boolean));
/** The gateway's idempotency window: its memory grows until it is full, so the heap is judged after it. */
const DEDUP_WINDOW_MS = 5 * 60_000;

const dir = mkdtempSync(join(tmpdir(), 'sb-soak-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify({
  storage: 'memory',
  auth: { jwtSecret: SECRET },
  dedupWindow: DEDUP_WINDOW_MS,
  namespaces: { soak: { history: { size: 2000, ttl: '2h' }, allowSubscribe: true, allowPublish: true } },
  limits: { connectionsPerIpPerSecond: 10_000, commandsPerSecond: 10_000 },
  heartbeat: { intervalMs: 10_000, timeoutMs: 5_000 },
}));

const gw = await startGatewayProcess({ args: ['--config', configPath], env: { SWITCHBOARD_LOG_LEVEL: 'warn' } });
// Stopped early (Ctrl-C, or a test's timeout): never leave the gateway behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void gw.stop().finally(() => process.exit(1)));
}
const url = async (user: string) => `${gw.wsUrl}?token=${await mintToken({ sub: user, secret: SECRET, ttlSec: 3 * 3600 })}`;

// ---- state -------------------------------------------------------------------------------
const acked = new Map<string, Set<number>>(CHANNELS.map((c) => [c, new Set()]));
/** The stream position of each channel as the publisher's acks tell it (for the churners). */
const head = new Map<string, Position>();
let latencies: number[] = [];
/** Failed connection attempts by cause (printed with each report). */
const failures = new Map<string, number>();
const totals = { published: 0, publishFailed: 0, publishing: 0, churned: 0, reconnects: 0, received: 0, recovered: 0, unrecovered: 0 };

interface Subscriber { name: string; channels: Map<string, ChannelState>; client?: SoakClient; connected: boolean }
const subscribers: Subscriber[] = Array.from({ length: Number(args.subscribers) }, (_, i) => ({
  name: `sub${i}`, channels: new Map(CHANNELS.map((c) => [c, new ChannelState()])), connected: false,
}));

/** Takes a recovering (or first) subscribe's ack: the replay, the pages after it, the new position. */
async function takeAck(c: SoakClient, st: ChannelState, channel: string, ack: any, asked: Position | undefined): Promise<void> {
  if (asked && ack.recovered === false) {
    totals.unrecovered++;
    st.declareGap(asked, { epoch: ack.epoch, offset: ack.offset });
    return;
  }
  if (asked) totals.recovered++;
  for (const p of ack.publications ?? []) st.add(p.epoch ?? ack.epoch, p.offset);
  let next: Position | undefined = ack.more ? ack.next : undefined;
  while (next && next.offset < ack.offset) {
    const page = await c.request({ type: 'history', channel, since: next });
    if (page.type !== 'ack') throw new Error(`history ${channel}: ${JSON.stringify(page)}`);
    for (const p of page.publications) st.add(p.epoch ?? page.epoch, p.offset);
    const last = page.publications.at(-1);
    next = last ? { epoch: page.epoch, offset: last.offset } : undefined;
  }
  st.advance({ epoch: ack.epoch, offset: ack.offset }); // live messages follow it with no gap
}

let lossInjected = !INJECT.has('loss');
let staleInjected = !INJECT.has('stale');

/** (Re)connects a long-lived subscriber and recovers every channel from its position; on any failure it tries again. */
async function connectSubscriber(s: Subscriber): Promise<void> {
  const c = new SoakClient();
  let ended = false;
  c.onFrame = (f) => {
    if (f.type !== 'message') return;
    if (!lossInjected && s === subscribers[0]) { lossInjected = true; return; } // --inject loss
    s.channels.get(f.channel)!.add(f.epoch, f.offset);
    latencies.push(Date.now() - f.data.t);
    totals.received++;
  };
  c.onClose = () => {
    if (ended) return;
    ended = true;
    s.connected = false;
    if (stopping) return;
    totals.reconnects++;
    setTimeout(() => void connectSubscriber(s), 500);
  };
  try {
    await c.open(await url(s.name));
    s.client = c;
    for (const ch of CHANNELS) {
      const st = s.channels.get(ch)!;
      const asked = st.position;
      let since = asked;
      if (since && !staleInjected) { staleInjected = true; since = { epoch: 'stale-epoch', offset: since.offset }; } // --inject stale
      const ack = await c.request({ type: 'subscribe', channel: ch, ...(since ? { since } : {}) });
      if (ack.type !== 'ack') throw new Error(`subscribe: ${ack.code}`);
      await takeAck(c, st, ch, ack, asked);
    }
    s.connected = !ended;
  } catch (err) {
    const why = (err as Error).message;
    failures.set(why, (failures.get(why) ?? 0) + 1);
    c.close(); // and try again (onClose)
  }
}

// ---- load ----------------------------------------------------------------------------------
let stopping = false;
const publisher = new SoakClient();
await publisher.open(await url('publisher'));
for (const s of subscribers) await connectSubscriber(s);

let n = 0;
const pubTimer = setInterval(() => {
  for (let k = 0; k < RATE / 20; k++) {
    const ch = CHANNELS[n % CHANNELS.length]!;
    const id = `p${++n}`;
    totals.publishing++;
    publisher.request({ type: 'publish', id, channel: ch, data: { t: Date.now(), n, pad: 'x'.repeat(200) } }).then((a) => {
      if (a.type === 'ack') {
        acked.get(ch)!.add(a.offset);
        const h = head.get(ch);
        if (!h || h.epoch !== a.epoch || a.offset > h.offset) head.set(ch, { epoch: a.epoch, offset: a.offset });
        totals.published++;
      } else totals.publishFailed++;
    }, () => totals.publishFailed++).finally(() => totals.publishing--);
  }
}, 50);

// A long-lived subscriber loses its socket now and then: it must recover what it missed.
const killTimer = setInterval(() => {
  const s = subscribers[Math.floor(Math.random() * subscribers.length)]!;
  s.client?.close();
}, Number(args['kill-every']) * 1000);

async function churnLoop(slot: number): Promise<void> {
  while (!stopping) {
    const c = new SoakClient();
    try {
      await c.open(await url(`churn${slot}`));
      const ch = CHANNELS[Math.floor(Math.random() * CHANNELS.length)]!;
      const h = head.get(ch); // a client that was away for the last 50 publications recovers them
      await c.request({ type: 'subscribe', channel: ch, ...(h ? { since: { epoch: h.epoch, offset: Math.max(0, h.offset - 50) } } : {}) });
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 2500));
    } catch (err) {
      if (!stopping) {
        const why = (err as Error).message;
        failures.set(why, (failures.get(why) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      c.close();
      totals.churned++;
    }
  }
}
const churners = Array.from({ length: Number(args.churn) }, (_, i) => churnLoop(i));

// ---- reporting -----------------------------------------------------------------------------
async function gatewayMemory(): Promise<{ rss: number; heap: number; connections: number }> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const v = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
  return { rss: v('process_resident_memory_bytes'), heap: v('nodejs_heap_size_used_bytes'), connections: v('switchboard_connections') };
}
const pct = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]! : NaN);
const mb = (b: number) => (b / 1048576).toFixed(1);
const started = Date.now();
/** The heap at each report, with when (ms since the start). */
const heaps: Array<{ at: number; heap: number }> = [];
console.log(`soak: ${MINUTES} min, ${RATE} pub/s over ${CHANNELS.length} channels, ${subscribers.length} long-lived subscribers, ${args.churn} churning connections; gateway pid ${gw.proc.pid}`);
console.log('heap_MB: the minimum of the interval\'s 5-second samples; latency: publish to receive, as seen by subscribers');
console.log('minute  rss_MB  heap_MB  conns  published  received  churned  reconnects  p50_ms  p99_ms  max_ms');
// The heap is sampled every 5 s and each report shows the interval's minimum: the closest
// to the live set without forcing a collection in the gateway.
let heapMin = Infinity;
const sampleTimer = setInterval(() => void gatewayMemory().then((m) => { heapMin = Math.min(heapMin, m.heap); }, () => {}), 5000);
async function report(): Promise<void> {
  const m = await gatewayMemory();
  m.heap = Math.min(m.heap, heapMin);
  heapMin = Infinity;
  heaps.push({ at: Date.now() - started, heap: m.heap });
  if (failures.size) {
    console.log(`        failed connection attempts this interval: ${[...failures].map(([k, v]) => `${v}× ${k}`).join(', ')}`);
    failures.clear();
  }
  const l = latencies.sort((a, b) => a - b);
  latencies = [];
  const min = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(`${min.padStart(6)}  ${mb(m.rss).padStart(6)}  ${mb(m.heap).padStart(7)}  ${String(m.connections).padStart(5)}  ${String(totals.published).padStart(9)}  ${String(totals.received).padStart(8)}  ${String(totals.churned).padStart(7)}  ${String(totals.reconnects).padStart(10)}  ${String(pct(l, 50)).padStart(6)}  ${String(pct(l, 99)).padStart(6)}  ${String(l.at(-1) ?? NaN).padStart(6)}`);
}
const reportTimer = setInterval(() => void report(), REPORT_MS);
await new Promise((r) => setTimeout(r, MINUTES * 60_000));

/** Offsets as runs: `3-7,9`. */
function runs(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

// ---- verdict -------------------------------------------------------------------------------
/** Waits (bounded) for a state the run needs, never for a fixed time. */
async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return console.log(`(gave up waiting for ${what} after ${timeoutMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
clearInterval(pubTimer);
clearInterval(killTimer);
await until('the acks of the last publications', () => totals.publishing === 0, 30_000);
// Caught up: connected, and its position at the last acknowledged publication of every channel.
const caughtUp = () => subscribers.every((s) => s.connected && CHANNELS.every((ch) => {
  const h = head.get(ch);
  const p = s.channels.get(ch)!.position;
  return !h || (p !== undefined && p.epoch === h.epoch && p.offset >= h.offset);
}));
await until('every subscriber to be connected and caught up', caughtUp, 60_000);
stopping = true;
clearInterval(reportTimer);
clearInterval(sampleTimer);
await Promise.all(churners);
await report();
let lost = 0;
let inGaps = 0;
let duplicates = 0;
/** Where the missing ones are: subscriber, channel, offsets (a few runs of them). */
const missing: string[] = [];
for (const s of subscribers) {
  for (const [ch, offs] of acked) {
    const st = s.channels.get(ch)!;
    const here: number[] = [];
    for (const o of offs) {
      if (st.has(o)) continue;
      if (st.accounted(o)) inGaps++;
      else {
        lost++;
        here.push(o);
      }
    }
    if (here.length > 0 && missing.length < 10) missing.push(`${s.name} ${ch} ${runs(here.sort((a, b) => a - b))} (position ${JSON.stringify(st.position)}, gaps ${JSON.stringify(st.gaps)})`);
    duplicates += st.duplicates;
  }
  s.client?.close();
}
publisher.close();
await gw.stop();
// The heap is judged only on reports made once the idempotency window was full (one report
// interval after it): before that it grows by design.
const judged = heaps.filter((h) => h.at >= DEDUP_WINDOW_MS + REPORT_MS).map((h) => h.heap);
const third = Math.max(1, Math.floor(judged.length / 3));
const early = Math.min(...judged.slice(0, third));
const late = Math.min(...judged.slice(-third));
const heapGrew = judged.length >= 6 && late > early * 1.5 + 32 * 1048576;
console.log(`\nacknowledged publications: ${totals.published} (failed: ${totals.publishFailed}); deliveries checked: ${totals.published * subscribers.length}; lost: ${lost}; duplicates: ${duplicates}`);
console.log(`subscriber recoveries: ${totals.recovered} recovered, ${totals.unrecovered} recovered: false (${inGaps} deliveries in the gaps they declared); subscriber reconnects: ${totals.reconnects}; churned connections: ${totals.churned}`);
console.log(judged.length >= 6
  ? `gateway heap once the ${DEDUP_WINDOW_MS / 60_000}-minute dedup window was full (min of first third → min of last third): ${mb(early)} MB → ${mb(late)} MB`
  : `gateway heap: not judged (it grows until the ${DEDUP_WINDOW_MS / 60_000}-minute dedup window is full; a verdict needs 6 reports after that: --minutes ${Math.ceil((DEDUP_WINDOW_MS + 7 * REPORT_MS) / 60_000)} or more)`);
if (missing.length > 0) console.log(`missing: ${missing.join('; ')}`);
const why = [
  lost > 0 ? `${lost} acknowledged deliveries missing` : '',
  totals.unrecovered > 0 ? `${totals.unrecovered} recoveries answered recovered: false` : '',
  duplicates > 0 ? `${duplicates} deliveries arrived twice` : '',
  heapGrew ? 'heap kept growing' : '',
].filter(Boolean);
if (why.length > 0) {
  console.log(`FAIL: ${why.join('; ')}`);
  process.exit(1);
}
console.log('PASS: zero lost acknowledged publications, every recovery recovered, nothing twice');
process.exit(0);
