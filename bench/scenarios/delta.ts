import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { mintToken } from '../../packages/server/src/auth/mint.ts';
import { SECRET, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import { cpuMsOf } from '../lib/machine.ts';
import { createDelta } from 'fossil-delta';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

/** A JSON document of about `size` bytes; version `n` differs from `n - 1` in two small fields. */
function benchDocument(n: number, size: number): Record<string, unknown> {
  const row = (i: number) => ({ id: i, sku: `SKU-${1000 + i}`, name: `item ${i}`, stock: (i * 7) % 50, note: 'kept between versions' });
  const rowBytes = JSON.stringify(row(100)).length + 1;
  const rows = Array.from({ length: Math.max(1, Math.round((size - 80) / rowBytes)) }, (_, i) => row(i));
  return { board: 'warehouse', version: n, updatedAt: 1_767_225_600_000 + n * 250, rows };
}

interface Mode {
  name: string;
  delta: boolean;
  deflate: boolean;
}
const MODES: Mode[] = [
  { name: 'plain', delta: false, deflate: false },
  { name: 'delta', delta: true, deflate: false },
  { name: 'plain+deflate', delta: false, deflate: true },
  { name: 'delta+deflate', delta: true, deflate: true },
];

interface ModeResult {
  /** Bytes read from the socket (TCP payload: WebSocket frames) per publication per subscriber. */
  wireBytesPerDelivery: number;
  /** Share of the measured messages that arrived as deltas. */
  deltaShare: number;
  /** Server CPU time (user + system) per delivery, µs. */
  serverCpuUsPerDelivery: number;
  deliveries: number;
}

/**
 * The average size of the delta between consecutive documents as a JSON string, encoded
 * one character per byte (latin1, the protocol's choice) and as base64 (the alternative).
 */
function encodings(count: number, size: number): { latin1: number; base64: number } {
  let latin1 = 0;
  let base64 = 0;
  for (let n = 2; n <= count + 1; n++) {
    const d = Buffer.from(createDelta(Buffer.from(JSON.stringify(benchDocument(n - 1, size))), Buffer.from(JSON.stringify(benchDocument(n, size)))));
    latin1 += Buffer.byteLength(JSON.stringify(d.toString('latin1')));
    base64 += JSON.stringify(d.toString('base64')).length;
  }
  return { latin1: Math.round(latin1 / count), base64: Math.round(base64 / count) };
}

/** One subscriber over the raw protocol: counts socket bytes and `message` frames. */
class Counter {
  readonly ws: WebSocket;
  socket: Socket | undefined;
  messages = 0;
  deltas = 0;
  readonly ready: Promise<void>;

  constructor(base: string, token: string, channel: string, mode: Mode) {
    this.ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`, { perMessageDeflate: mode.deflate ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : false });
    this.ws.on('upgrade', (res) => { this.socket = res.socket as Socket; });
    this.ready = new Promise((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.on('message', (data: Buffer) => {
        if (data.subarray(0, 17).toString() === '{"type":"message"') {
          this.messages++;
          if (data.includes('"delta":true')) this.deltas++;
        } else if (data.includes('"type":"ack"')) resolve();
        else if (data.includes('"type":"ping"')) this.ws.send('{"type":"pong"}');
      });
      this.ws.once('open', () => this.ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel, ...(mode.delta ? { delta: 'fossil' } : {}) })));
    });
  }

  get bytes(): number {
    return this.socket?.bytesRead ?? 0;
  }
}

/** Publishes `count` documents one after another (each after the previous one's ack). */
async function publishSeries(pub: WebSocket, channel: string, from: number, count: number, size: number): Promise<void> {
  for (let n = from; n < from + count; n++) {
    await new Promise<void>((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const f = JSON.parse(data.toString());
        if (f.id !== n) return;
        pub.off('message', onMessage);
        if (f.type === 'ack') resolve();
        else reject(new Error(`publish refused: ${data}`));
      };
      pub.on('message', onMessage);
      pub.send(JSON.stringify({ type: 'publish', id: n, channel, data: benchDocument(n, size) }));
    });
  }
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

/**
 * `delta`: bytes on the wire and server CPU per delivery for a JSON document (`--size`,
 * 5,000 bytes) that changes a little per publication, sent to `--subscribers` (200) plain
 * subscribers, delta subscribers (`subscribe` with `delta: "fossil"`), and both again with
 * permessage-deflate. Each mode has its own channel and runs in turn on one server: `--warmup`
 * publications (20, not measured), then `--publications` (300) measured; bytes are what the
 * subscribers' sockets read, CPU is the server process's user + system time.
 */
export async function delta(ctx: ScenarioContext): Promise<ScenarioResult> {
  const subscribers = num(ctx, 'subscribers', 200);
  const publications = num(ctx, 'publications', 300);
  const warmup = num(ctx, 'warmup', 20);
  const size = num(ctx, 'size', 5000);
  assertFdBudget(subscribers + 20);
  if (ctx.peers.some((p) => p !== 'switchboard')) ctx.log('delta: Switchboard only (the other peers have no delta compression)');
  const server = new ServerUnderTest('switchboard', ctx, { env: { BENCH_DEFLATE: '1' } });
  const results: Record<string, ModeResult> = {};
  const docBytes = Buffer.byteLength(JSON.stringify(benchDocument(1, size)));
  await server.start();
  const token = await mintToken({ sub: 'bench-delta', secret: SECRET, ttlSec: 3600 });
  const pub = new WebSocket(`${server.base.replace('http', 'ws')}/ws?token=${token}`);
  try {
    await new Promise((resolve, reject) => { pub.once('open', resolve); pub.once('error', reject); });
    for (const [i, mode] of MODES.entries()) {
      const channel = `doc:bench-${i}`; // names of one length: frames of every mode carry as many bytes of it
      ctx.log(`delta: ${mode.name}, ${subscribers} subscribers, document of ${docBytes} bytes`);
      const clients = Array.from({ length: subscribers }, () => new Counter(server.base, token, channel, mode));
      try {
        await Promise.all(clients.map((c) => c.ready));
        await publishSeries(pub, channel, 1, warmup, size);
        await until(() => clients.every((c) => c.messages === warmup), 60_000, `${mode.name} warm-up`);
        const bytes0 = clients.reduce((s, c) => s + c.bytes, 0);
        const deltas0 = clients.reduce((s, c) => s + c.deltas, 0);
        const cpu0 = cpuMsOf(server.child.pid);
        await publishSeries(pub, channel, warmup + 1, publications, size);
        await until(() => clients.every((c) => c.messages === warmup + publications), 120_000, `${mode.name} deliveries`);
        const cpu1 = cpuMsOf(server.child.pid);
        const bytes1 = clients.reduce((s, c) => s + c.bytes, 0);
        const deliveries = subscribers * publications;
        const deltas = clients.reduce((s, c) => s + c.deltas, 0) - deltas0;
        results[mode.name] = {
          wireBytesPerDelivery: Math.round((bytes1 - bytes0) / deliveries),
          deltaShare: Math.round((deltas / deliveries) * 1000) / 1000,
          serverCpuUsPerDelivery: Math.round(((cpu1 - cpu0) * 1000 / deliveries) * 100) / 100,
          deliveries,
        };
        const r = results[mode.name]!;
        ctx.log(`  ${mode.name}: ${r.wireBytesPerDelivery} B/delivery on the wire, ${Math.round(r.deltaShare * 100)}% deltas, server ${r.serverCpuUsPerDelivery} µs/delivery`);
      } finally {
        for (const c of clients) c.ws.terminate();
      }
      await sleep(300);
    }
  } finally {
    pub.terminate();
    await server.stop();
  }
  const enc = encodings(publications, size);
  ctx.log(`delta: the delta as a JSON string averages ${enc.latin1} bytes in latin1, ${enc.base64} in base64`);
  const metric = (name: string, unit: string, value: number | undefined, higherIsBetter = false): Comparison => ({ metric: name, unit, higherIsBetter, values: { switchboard: value ?? null } });
  const ratio = (a: string, b: string, key: keyof ModeResult) => Math.round((results[a]![key] / results[b]![key]) * 1000) / 1000;
  return {
    scenario: 'delta',
    params: { subscribers, publications, warmup, size, docBytes, deltaEncodings: enc },
    peers: { switchboard: results },
    comparisons: [
      ...MODES.map((m) => metric(`wire bytes per delivery, ${m.name}`, 'B', results[m.name]?.wireBytesPerDelivery)),
      metric('delta as a JSON string, latin1 (the protocol\'s)', 'B', enc.latin1),
      metric('delta as a JSON string, base64', 'B', enc.base64),
      metric('delta / plain bytes', 'ratio', ratio('delta', 'plain', 'wireBytesPerDelivery')),
      metric('delta+deflate / plain+deflate bytes', 'ratio', ratio('delta+deflate', 'plain+deflate', 'wireBytesPerDelivery')),
      ...MODES.map((m) => metric(`server CPU per delivery, ${m.name}`, 'µs', results[m.name]?.serverCpuUsPerDelivery)),
      metric('delta / plain server CPU per delivery', 'ratio', ratio('delta', 'plain', 'serverCpuUsPerDelivery')),
    ],
    notes: [
      `a ${docBytes}-byte JSON document changing in two small fields per publication; ${subscribers} subscribers per mode, ${publications} publications measured after ${warmup} warm-up ones`,
      'wire bytes: what the subscribers\' sockets read (WebSocket frames, TCP payload); server CPU: user + system time of the server process (10 ms resolution)',
    ],
  };
}
