import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { connectAuthed, startGateway } from './helpers.ts';

// Issue 13, defect 4: many concurrent `history` reads of large publications made the gateway's
// ping latency 2.1 s and its RSS 1.1 GB (a reply could hold 1,000 publications; pipelined
// reads were all built at once). Replies are now bounded in bytes (limits.maxReplayBytes, with
// `more`), a connection's next read waits until it took the previous reply, and at most
// limits.historyReadsInFlight reads run at once on a node.
const MAX = 128 * 1024;
const IN_FLIGHT = 4;
const COUNT = 120;
const PAD = 'y'.repeat(30_000); // 120 × 30 KB: 3.6 MB of history
const CONNECTIONS = 50;
const READS = 8;
const NAMESPACES = { chat: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } };
const KEY = 'history-flood-key-0123456789';
const bytesOf = (pubs: unknown[]) => pubs.reduce<number>((n, p) => n + Buffer.byteLength(JSON.stringify(p)), 0);

describe.each(['memory', 'sqlite', 'redis'] as const)('a history read flood (%s storage)', (kind) => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let redis: RedisProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sb-flood-'));
  let epoch = '';

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
    const storage = kind === 'sqlite' ? `sqlite:${join(dir, 'flood.db')}` : kind;
    gw = await startGateway({
      storage, ...(redis ? { redis: redis.url } : {}), namespaces: NAMESPACES, apiKeys: [KEY],
      limits: { maxReplayBytes: MAX, historyReadsInFlight: IN_FLIGHT, maxQueueBytes: 1024 * 1024, commandsPerSecond: 10_000 },
    });
    const ch = gw.node.resolve('chat:flood');
    for (let n = 1; n <= COUNT; n++) epoch = (await gw.node.publish(ch, { n, pad: PAD })).epoch!;
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${CONNECTIONS} connections × ${READS} pipelined reads: every reply within the byte bound, at most historyReadsInFlight at once, and another client's ping and publish complete meanwhile`, async () => {
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => connectAuthed(gw.wsUrl, `reader-${i}`)));
    const probe = await connectAuthed(gw.wsUrl, 'probe');
    await probe.request({ type: 'subscribe', channel: 'chat:probe' });

    for (const c of clients) for (let r = 0; r < READS; r++) c.send({ type: 'history', id: `h${r}`, channel: 'chat:flood', limit: 1000 });
    // Meanwhile another client: a ping round trip, and a publication it receives back.
    const t0 = performance.now();
    await probe.roundtrip();
    const pingMs = performance.now() - t0;
    const t1 = performance.now();
    const ack = await probe.request({ type: 'publish', channel: 'chat:probe', data: 'still here' }, 30_000);
    await probe.next((f) => f.type === 'message' && f.data === 'still here', 30_000);
    const publishMs = performance.now() - t1;
    expect(ack.type).toBe('ack');
    const answeredMeanwhile = clients.reduce((n, c) => n + c.frames.filter((f) => f.type === 'ack').length, 0);
    // Meanwhile, not after: the probe was served while most of the flood was still to come
    // (reads start at most a byte bound per event-loop turn, so I/O is served between them).
    expect(answeredMeanwhile).toBeLessThan((CONNECTIONS * READS) / 2);

    for (const c of clients) await c.next((f) => f.type === 'ack' && f.id === `h${READS - 1}`, 60_000);
    for (const c of clients) {
      const replies = c.frames.filter((f) => f.type === 'ack' || f.type === 'error');
      expect(replies).toHaveLength(READS);
      for (const r of replies) {
        expect(r.type).toBe('ack');
        expect(r.publications.length).toBeGreaterThan(0);
        expect(bytesOf(r.publications)).toBeLessThanOrEqual(MAX);
        expect(r.publications.map((p: any) => p.offset)).toEqual(Array.from({ length: r.publications.length }, (_, i) => i + 1));
        expect(r.more).toBe(true);
      }
      expect(c.closeCode).toBeUndefined();
    }
    expect(gw.node.historyReads.peak).toBeLessThanOrEqual(IN_FLIGHT);
    console.log(`[history flood, ${kind}] during ${CONNECTIONS}×${READS} reads of up to ${MAX / 1024} KiB: ping ${pingMs.toFixed(1)} ms, publish round trip ${publishMs.toFixed(1)} ms (${answeredMeanwhile} of ${CONNECTIONS * READS} flood replies had arrived by then); peak reads at once ${gw.node.historyReads.peak}`);
    for (const c of [...clients, probe]) c.close();
  }, 120_000);

  it('subscribes with rewind from 50 connections at once go through the same gate', async () => {
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => connectAuthed(gw.wsUrl, `rewinder-${i}`)));
    for (const c of clients) {
      for (let r = 0; r < 4; r++) {
        c.send({ type: 'subscribe', id: `w${r}`, channel: 'chat:flood', rewind: 100 });
        c.send({ type: 'unsubscribe', id: `u${r}`, channel: 'chat:flood' });
      }
    }
    for (const c of clients) await c.next((f) => f.type === 'ack' && f.id === 'u3', 60_000);
    for (const c of clients) {
      const acks = c.frames.filter((f) => f.type === 'ack' && String(f.id).startsWith('w'));
      expect(acks).toHaveLength(4);
      for (const a of acks) {
        expect(a.publications.length).toBeGreaterThan(0);
        expect(a.publications.at(-1).offset).toBe(COUNT); // the newest always come
        expect(bytesOf(a.publications)).toBeLessThanOrEqual(MAX);
      }
      expect(c.closeCode).toBeUndefined();
      c.close();
    }
    expect(gw.node.historyReads.peak).toBeLessThanOrEqual(IN_FLIGHT);
  }, 120_000);

  it('paging with more reaches every publication, forward and in reverse, each page within the bound', async () => {
    const c = await connectAuthed(gw.wsUrl, 'pager');
    for (const reverse of [false, true]) {
      const seen: number[] = [];
      let since: { epoch: string; offset: number } | undefined;
      for (let pages = 0; pages < COUNT; pages++) {
        const page = await c.request({ type: 'history', channel: 'chat:flood', limit: 1000, reverse, ...(since ? { since } : {}) });
        expect(page.type).toBe('ack');
        expect(bytesOf(page.publications)).toBeLessThanOrEqual(MAX);
        seen.push(...page.publications.map((p: any) => p.offset));
        if (!page.more) break;
        since = { epoch, offset: page.publications.at(-1).offset };
      }
      const all = Array.from({ length: COUNT }, (_, i) => i + 1);
      expect(seen).toEqual(reverse ? all.reverse() : all);
    }
    c.close();
    // The server API's history is bounded the same way.
    const res = await fetch(`${gw.url}/api/history`, { method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, body: JSON.stringify({ channel: 'chat:flood', limit: 1000 }) });
    expect(res.status).toBe(200);
    const body = await res.json() as { publications: Array<{ offset: number }>; more?: boolean };
    expect(body.publications.length).toBeGreaterThan(0);
    expect(bytesOf(body.publications)).toBeLessThanOrEqual(MAX);
    expect(body.more).toBe(true);
  });

  it('a client that pipelines 100 reads and stops reading its socket is answered in full once it reads again, never closed 3008', async () => {
    const slow = await connectAuthed(gw.wsUrl, 'slow-reader');
    const socket = slow.socket!;
    socket.pause();
    for (let r = 0; r < 100; r++) slow.send({ type: 'history', id: `s${r}`, channel: 'chat:flood', limit: 1000 });
    // The kernel's buffers fill, then the gateway holds a reply: it must wait there, not read on.
    const server = await waitFor(() => [...gw.node.connections].find((c) => c.user === 'slow-reader' && c.transport.bufferedAmount > MAX), 30_000, 'the socket backed up');
    socket.resume();
    await slow.next((f) => f.type === 'ack' && f.id === 's99', 60_000);
    expect(slow.frames.filter((f) => f.type === 'ack')).toHaveLength(100); // 12 MB of replies through a 1 MiB queue
    expect(slow.closeCode).toBeUndefined();
    expect(server.state).not.toBe('closed');
    slow.close();
  }, 120_000);
});
