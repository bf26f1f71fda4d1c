/**
 * A load worker: a child process of the harness that holds a slice of the simulated
 * clients (or the publisher) and reports counts and latency histograms over IPC.
 * Never runs inside a server process. Exits when the harness goes away.
 */
import { SignJWT } from 'jose';
import { Histogram, nowMicros } from '../lib/histogram.ts';
import { emit, serveCommands } from '../lib/child.ts';
import { createClient, type BenchClient, type Peer, type Tally } from './clients.ts';
import { channelsFor, type ChannelRule, type PublishTarget, pickTarget } from './channels.ts';

const tally: Tally = { delivered: 0, hist: new Histogram(), unexpected: 0, closeCodes: {}, ready: 0 };
const readyTimes = new Histogram();
let clients: BenchClient[] = [];
let publisher: (BenchClient & { publish(channel: string, data: string): void }) | undefined;
let startedAt = 0;
let target = 0;
let allReadyAt = 0;
let sawNotReady = false;

/** Which Socket.IO client the harness asked for (`--sio-client`). */
const sioClient = process.env.BENCH_SIO_CLIENT === 'official' ? 'official' as const : 'raw' as const;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function mint(secret: Uint8Array, sub: string, publish: boolean): Promise<string> {
  return new SignJWT(publish ? { publish: ['*'], channels: ['*'] } : { channels: ['*'] })
    .setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('3h').sign(secret);
}

function onReady(): void {
  readyTimes.record(nowMicros() - startedAt);
  if (tally.ready >= target && allReadyAt === 0) {
    allReadyAt = nowMicros();
    emit('all_ready', { ms: (allReadyAt - startedAt) / 1000 });
  }
}

interface ConnectMsg {
  peer: Peer;
  base: string;
  secret: string;
  /** Global index of the first client of this worker, and how many. */
  from: number;
  count: number;
  /** Source addresses, one per `perAddress` clients (by global index). */
  addresses: string[];
  perAddress: number;
  /** Global index of the first client the addresses were chosen for. */
  addressBase: number;
  rule: ChannelRule;
  reconnect: boolean;
  /** Connection attempts in flight at once (storm: all). */
  concurrency: number;
  timeoutMs: number;
}

serveCommands({
  /** Opens `count` clients; resolves when all are ready or the time is up (whichever first). */
  async connect(m: ConnectMsg) {
    const secret = new TextEncoder().encode(m.secret);
    const tokens: string[] = new Array(m.count);
    for (let i = 0; i < m.count; i++) tokens[i] = await mint(secret, `u${m.from + i}`, false);
    target = m.count;
    allReadyAt = 0;
    startedAt = nowMicros();
    const deadline = Date.now() + m.timeoutMs;
    for (let i = 0; i < m.count && Date.now() < deadline; i++) {
      const g = m.from + i;
      const c = createClient({
        peer: m.peer, base: m.base, token: tokens[i]!, channels: channelsFor(m.rule, g),
        localAddress: m.addresses[Math.floor((g - m.addressBase) / m.perAddress) % m.addresses.length]!, reconnect: m.reconnect, sioClient,
      }, tally, onReady);
      clients.push(c);
      c.start();
      while (clients.length - tally.ready - tally.unexpected >= m.concurrency && Date.now() < deadline) await sleep(2);
    }
    while (tally.ready < m.count && Date.now() < deadline) {
      if (!m.reconnect && tally.ready + tally.unexpected >= m.count) break;
      await sleep(20);
    }
    return { ready: tally.ready, unexpected: tally.unexpected, closeCodes: tally.closeCodes, ms: (nowMicros() - startedAt) / 1000, readyTimes: readyTimes.toJSON() };
  },

  /** Starts timing a recovery (the harness is about to restart the server). */
  markRestart() {
    startedAt = nowMicros();
    allReadyAt = 0;
    sawNotReady = false;
    readyTimes.reset();
    return {};
  },

  /** Waits until every client has been lost and is ready again; ms since `markRestart`. */
  async waitRecovered(m: { timeoutMs: number }) {
    const deadline = Date.now() + m.timeoutMs;
    while (Date.now() < deadline) {
      if (tally.ready < target) sawNotReady = true;
      if (sawNotReady && tally.ready >= target) break;
      await sleep(10);
    }
    return { ready: tally.ready, ms: allReadyAt && sawNotReady ? (allReadyAt - startedAt) / 1000 : null, readyTimes: readyTimes.toJSON() };
  },

  reset() {
    tally.delivered = 0;
    tally.hist.reset();
    return {};
  },

  stats() {
    return { delivered: tally.delivered, hist: tally.hist.toJSON(), unexpected: tally.unexpected, closeCodes: tally.closeCodes, ready: tally.ready, clients: clients.length, rss: process.memoryUsage().rss, cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000 };
  },

  /** The publisher role: one connection that publishes at `rate`/s for `durationMs`. */
  async publish(m: { peer: Peer; base: string; secret: string; rate: number; durationMs: number; target: PublishTarget; padding: number; localAddress: string }) {
    if (!publisher) {
      const secret = new TextEncoder().encode(m.secret);
      const t: Tally = { delivered: 0, hist: new Histogram(), unexpected: 0, closeCodes: {}, ready: 0 };
      let ok!: () => void;
      const ready = new Promise<void>((r) => (ok = r));
      publisher = createClient({ peer: m.peer, base: m.base, token: await mint(secret, 'publisher', true), channels: [], localAddress: m.localAddress, reconnect: false, sioClient }, t, () => ok());
      publisher.start();
      await Promise.race([ready, sleep(10_000).then(() => { throw new Error('publisher did not connect'); })]);
    }
    const pad = 'x'.repeat(m.padding);
    const start = performance.now();
    const maxCount = Math.ceil(m.rate * m.durationMs / 1000);
    let sent = 0;
    let expected = 0;
    // Ticks of ~5 ms; each sends what the schedule owes. Bounded in count and in time.
    while (sent < maxCount && performance.now() - start < m.durationMs + 5_000) {
      const due = Math.min(maxCount, Math.floor(((performance.now() - start) / 1000) * m.rate));
      for (; sent < due; sent++) {
        const { channel, members } = pickTarget(m.target, sent);
        expected += members;
        publisher.publish(channel, `{"t":${nowMicros()},"p":"${pad}"}`);
      }
      await sleep(5);
    }
    return { published: sent, expected, ms: performance.now() - start };
  },

  close() {
    for (const c of clients) c.close();
    publisher?.close();
    clients = [];
    setTimeout(() => process.exit(0), 200).unref();
    return {};
  },
});
