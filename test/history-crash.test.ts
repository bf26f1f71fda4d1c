import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed } from '../packages/server/test/helpers.ts';

const CHANNEL = 'chat:crash';
const TOTAL = 400;
const KILL_AFTER = 150;
const WINDOW = 8;

/** Publishes `ids` in order with a few in flight; records each ack; stops when the socket dies. */
async function publishSome(c: RawClient, ids: string[], acked: Map<string, number>, onAck: () => void): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (const id of ids) {
    if (acked.has(id)) continue;
    if (c.closeCode !== undefined) return;
    const p = c.next((f) => f.type === 'ack' && f.id === id, 10_000).then((ack) => {
      acked.set(id, ack.offset);
      onAck();
    }, () => {});
    c.send({ type: 'publish', id, channel: CHANNEL, data: { id } });
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** A subscriber that remembers everything it was given and resumes from its last offset. */
class Follower {
  readonly got: Array<{ offset: number; id: string }> = [];
  since: { epoch: string; offset: number } | undefined;
  client: RawClient | undefined;
  private ackIndex = -1;

  async connect(wsUrl: string, user: string): Promise<void> {
    this.client = await connectAuthed(wsUrl, user);
    const ack = await this.client.request({ type: 'subscribe', channel: CHANNEL, ...(this.since ? { since: this.since } : {}) });
    expect(ack.type).toBe('ack');
    if (this.since) expect(ack.recovered).toBe(true);
    else this.since = { epoch: ack.epoch, offset: ack.offset };
    this.ackIndex = this.client.frames.indexOf(ack);
  }

  /** Takes what the current connection received (after its ack) and drops the connection. */
  disconnect(): void {
    const c = this.client!;
    c.close();
    const ack = c.frames[this.ackIndex];
    const pubs = [...(ack.publications ?? []), ...c.frames.slice(this.ackIndex + 1).filter((f) => f.type === 'message')];
    for (const p of pubs) {
      this.got.push({ offset: p.offset, id: p.data.id });
      this.since = { epoch: p.epoch, offset: p.offset };
    }
  }

  seen(): number {
    const c = this.client!;
    const ack = c.frames[this.ackIndex];
    const last = c.frames.filter((f) => f.type === 'message').at(-1) ?? ack.publications?.at(-1);
    return last?.offset ?? this.since?.offset ?? 0;
  }
}

describe('SQLite history across kill -9 of the gateway process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-crash-'));
  let gw: GatewayProcess;
  beforeAll(async () => {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      namespaces: { chat: { history: { size: 10_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
      limits: { commandsPerSecond: 100_000 },
    }));
    gw = await startGatewayProcess({ args: ['--storage', `sqlite:${join(dir, 'x.db')}`, '--jwt-secret', SECRET, '--config', config] });
  });
  afterAll(async () => {
    await gw?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives reconnecting clients exactly the acknowledged publications, in order, each once', async () => {
    const ids = Array.from({ length: TOTAL }, (_, i) => `m-${i}`);
    const acked = new Map<string, number>();
    const live = new Follower();
    const offline = new Follower();
    await live.connect(gw.wsUrl, 'live');
    await offline.connect(gw.wsUrl, 'offline');

    // The offline follower leaves after the first 50; the publisher goes on and the gateway
    // is killed with publications in flight.
    let pub = await connectAuthed(gw.wsUrl, 'publisher');
    await publishSome(pub, ids.slice(0, 50), acked, () => {});
    await waitFor(() => offline.seen() === 50, 5000, 'offline follower at 50');
    offline.disconnect();
    let killing: Promise<void> | undefined;
    await publishSome(pub, ids, acked, () => {
      if (acked.size >= KILL_AFTER) killing ??= gw.kill();
    });
    await killing;
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acked.size).toBeLessThan(TOTAL);
    await live.client!.waitClose();
    live.disconnect();

    await gw.restart();
    // The publisher retries everything not acknowledged, with the same ids.
    pub = await connectAuthed(gw.wsUrl, 'publisher');
    await live.connect(gw.wsUrl, 'live');
    // A client that lost its last acks retries those too: each is a duplicate, first offset.
    const lastAcked = [...acked].slice(-WINDOW);
    for (const [id, offset] of lastAcked) {
      const again = await pub.request({ type: 'publish', id, channel: CHANNEL, data: { id } });
      expect(again).toMatchObject({ offset, duplicate: true });
    }
    pub.frames.length = 0;
    await publishSome(pub, ids, acked, () => {});
    expect(acked.size).toBe(TOTAL);
    await offline.connect(gw.wsUrl, 'offline');
    await waitFor(() => live.seen() === TOTAL && offline.seen() === TOTAL, 5000, 'followers at the end');
    live.disconnect();
    offline.disconnect();
    pub.close();

    const byOffset = [...acked].map(([id, offset]) => ({ offset, id })).sort((a, b) => a.offset - b.offset);
    expect(byOffset.map((x) => x.offset)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(live.got).toEqual(byOffset);
    expect(offline.got).toEqual(byOffset);
  });

  it('remembers publish ids across kill -9: the retry is a duplicate with the first offset', async () => {
    let c = await connectAuthed(gw.wsUrl, 'publisher');
    const first = await c.request({ type: 'publish', id: 'once', channel: 'chat:dedup', data: 1 });
    expect(first.duplicate).toBe(false);
    await gw.kill();
    await gw.restart();
    c = await connectAuthed(gw.wsUrl, 'publisher');
    const again = await c.request({ type: 'publish', id: 'once', channel: 'chat:dedup', data: 1 });
    expect(again).toMatchObject({ epoch: first.epoch, offset: first.offset, duplicate: true });
    const h = await c.request({ type: 'history', channel: 'chat:dedup' });
    expect(h.publications.map((p: any) => p.id)).toEqual(['once']);
    c.close();
  });
});
