/**
 * Soak: steady publish load with connection churn against a real gateway process, for as
 * long as asked (`npm run soak -- --minutes 30`). Prints the gateway's memory and the
 * publish-to-receive latency every interval, then checks that every acknowledged
 * publication reached every long-lived subscriber (live, or recovered after a reconnect).
 * Exits 1 when one is missing or the gateway's heap kept growing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startGatewayProcess } from '../test/support/gateway-process.ts';
import { mintToken } from '../packages/server/src/index.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '100' }, // publications per second, all channels
    channels: { type: 'string', default: '5' },
    subscribers: { type: 'string', default: '20' }, // long-lived, checked for loss
    churn: { type: 'string', default: '10' }, // short-lived connections at any time
    'report-every': { type: 'string', default: '60' }, // seconds
    'kill-every': { type: 'string', default: '15' }, // seconds: drop a long-lived subscriber's socket, it recovers
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const CHANNELS = Array.from({ length: Number(args.channels) }, (_, i) => `soak:c${i}`);
const SECRET = 'soak-secret-0123456789abcdef';
const REPORT_MS = Number(args['report-every']) * 1000;

const dir = mkdtempSync(join(tmpdir(), 'sb-soak-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify({
  storage: 'memory',
  auth: { jwtSecret: SECRET },
  namespaces: { soak: { history: { size: 2000, ttl: '2h' }, allowSubscribe: true, allowPublish: true } },
  limits: { connectionsPerIpPerSecond: 10_000, commandsPerSecond: 10_000 },
  heartbeat: { intervalMs: 10_000, timeoutMs: 5_000 },
}));

const gw = await startGatewayProcess({ args: ['--config', configPath], env: { SWITCHBOARD_LOG_LEVEL: 'warn' } });
const token = (sub: string) => mintToken({ sub, secret: SECRET, ttlSec: 3 * 3600 });

/** A lean client: JSON frames in, a callback per frame; no frame is kept. */
class Client {
  ws!: WebSocket;
  private pending = new Map<string, (f: any) => void>();
  private seq = 0;
  onFrame: (f: any) => void = () => {};
  onClose: (code: number) => void = () => {};
  async open(user: string): Promise<void> {
    this.ws = new WebSocket(`${gw.wsUrl}?token=${await token(user)}`);
    await new Promise<void>((resolve, reject) => {
      this.ws.on('message', (d) => {
        const v = JSON.parse(d.toString());
        for (const f of Array.isArray(v) ? v : [v]) {
          if (f.type === 'auth_success') resolve();
          else if (f.type === 'auth_failed') reject(new Error(f.reason));
          else if (f.type === 'ping') this.ws.send('{"type":"pong"}');
          else if ((f.type === 'ack' || f.type === 'error') && this.pending.has(String(f.id))) {
            this.pending.get(String(f.id))!(f);
            this.pending.delete(String(f.id));
          } else this.onFrame(f);
        }
      });
      let cause = '';
      this.ws.on('unexpected-response', (_req, res) => { cause = `HTTP ${res.statusCode}`; res.resume(); });
      this.ws.on('close', (code) => { reject(new Error(`closed ${code}${cause ? ` (${cause})` : ''}`)); this.onClose(code); });
      this.ws.on('error', (err) => { cause ||= (err as NodeJS.ErrnoException).code ?? err.message; });
    });
  }
  request(frame: Record<string, unknown>): Promise<any> {
    const id = frame.id !== undefined ? String(frame.id) : `q${++this.seq}`;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new Error('not open'));
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

// ---- state -------------------------------------------------------------------------------
const acked = new Map<string, Set<number>>(CHANNELS.map((c) => [c, new Set()]));
let epoch: Record<string, string> = {};
let latencies: number[] = [];
/** Failed connection attempts by cause (printed with each report). */
const failures = new Map<string, number>();
const totals = { published: 0, publishFailed: 0, churned: 0, reconnects: 0, received: 0 };

/** Offsets received on one channel: everything up to `upTo`, plus the ones above it in `above`. */
class Received {
  upTo = 0;
  private readonly above = new Set<number>();
  add(o: number): void {
    if (o <= this.upTo) return;
    this.above.add(o);
    while (this.above.delete(this.upTo + 1)) this.upTo++;
  }
  has(o: number): boolean {
    return o <= this.upTo || this.above.has(o);
  }
}
interface Subscriber { name: string; got: Map<string, Received>; client?: Client }
const subscribers: Subscriber[] = Array.from({ length: Number(args.subscribers) }, (_, i) => ({
  name: `sub${i}`, got: new Map(CHANNELS.map((c) => [c, new Received()])),
}));

async function connectSubscriber(s: Subscriber): Promise<void> {
  const c = new Client();
  c.onFrame = (f) => {
    if (f.type !== 'message') return;
    s.got.get(f.channel)!.add(f.offset);
    latencies.push(Date.now() - f.data.t);
    totals.received++;
  };
  c.onClose = () => {
    if (stopping) return;
    totals.reconnects++;
    const retry = (): void => void connectSubscriber(s).catch((e) => {
      failures.set(e.message, (failures.get(e.message) ?? 0) + 1);
      setTimeout(retry, 500);
    });
    setTimeout(retry, 500);
  };
  await c.open(s.name);
  s.client = c;
  for (const ch of CHANNELS) {
    const since = epoch[ch] ? { epoch: epoch[ch], offset: s.got.get(ch)!.upTo } : undefined;
    const ack = await c.request({ type: 'subscribe', channel: ch, ...(since ? { since } : {}) });
    if (ack.type !== 'ack') throw new Error(`${s.name} subscribe ${ch}: ${JSON.stringify(ack)}`);
    epoch[ch] ??= ack.epoch;
    for (const p of ack.publications ?? []) {
      s.got.get(ch)!.add(p.offset);
    }
  }
}

// ---- load ----------------------------------------------------------------------------------
let stopping = false;
const publisher = new Client();
await publisher.open('publisher');
for (const s of subscribers) await connectSubscriber(s);

let n = 0;
const pubTimer = setInterval(() => {
  for (let k = 0; k < RATE / 20; k++) {
    const ch = CHANNELS[n % CHANNELS.length]!;
    const id = `p${++n}`;
    publisher.request({ type: 'publish', id, channel: ch, data: { t: Date.now(), n, pad: 'x'.repeat(200) } }).then((a) => {
      if (a.type === 'ack') {
        acked.get(ch)!.add(a.offset);
        totals.published++;
      } else totals.publishFailed++;
    }, () => totals.publishFailed++);
  }
}, 50);

// A long-lived subscriber loses its socket now and then: it must recover what it missed.
const killTimer = setInterval(() => {
  const s = subscribers[Math.floor(Math.random() * subscribers.length)]!;
  s.client?.close();
}, Number(args['kill-every']) * 1000);

async function churnLoop(slot: number): Promise<void> {
  while (!stopping) {
    const c = new Client();
    try {
      await c.open(`churn${slot}`);
      const ch = CHANNELS[Math.floor(Math.random() * CHANNELS.length)]!;
      await c.request({ type: 'subscribe', channel: ch, ...(epoch[ch] ? { since: { epoch: epoch[ch], offset: Math.max(0, acked.get(ch)!.size - 50) } } : {}) });
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
const heaps: number[] = [];
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
  heaps.push(m.heap);
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

// ---- verdict -------------------------------------------------------------------------------
clearInterval(pubTimer);
await new Promise((r) => setTimeout(r, 3000)); // in-flight acks and deliveries
clearInterval(killTimer);
await new Promise((r) => setTimeout(r, 2000)); // reconnects in progress finish recovering
stopping = true;
clearInterval(reportTimer);
clearInterval(sampleTimer);
await Promise.all(churners);
await report();
let lost = 0;
for (const s of subscribers) {
  for (const [ch, offs] of acked) for (const o of offs) if (!s.got.get(ch)!.has(o)) lost++;
  s.client?.close();
}
publisher.close();
const third = Math.max(1, Math.floor(heaps.length / 3));
const early = Math.min(...heaps.slice(0, third));
const late = Math.min(...heaps.slice(-third));
console.log(`\nacknowledged publications: ${totals.published} (failed: ${totals.publishFailed}); deliveries checked: ${totals.published * subscribers.length}; lost: ${lost}`);
console.log(`gateway heap (min of first third → min of last third): ${mb(early)} MB → ${mb(late)} MB; subscriber reconnects: ${totals.reconnects}; churned connections: ${totals.churned}`);
await gw.stop();
const heapGrew = heaps.length >= 6 && late > early * 1.5 + 32 * 1048576;
if (lost > 0 || heapGrew) {
  console.log(`FAIL: ${lost > 0 ? `${lost} acknowledged deliveries missing` : ''}${heapGrew ? ' heap kept growing' : ''}`);
  process.exit(1);
}
console.log('PASS: zero lost acknowledged publications');
process.exit(0);
