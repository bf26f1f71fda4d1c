import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler } from '../src/broker/broker.ts';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * A broker that behaves like a network one: publications come back late (up to 4 ms, in
 * order), so a subscriber may read one from history before its live copy arrives; and a
 * channel's publications reach this node only once its (slow) broker subscription is done.
 */
class LaggyBroker implements Broker {
  readonly nodeId = 'n_laggy-node';
  private readonly handler: BrokerHandler;
  private readonly subscribed = new Set<string>();
  private readonly queue: Array<{ due: number; channel: string; pub: Publication }> = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(handler: BrokerHandler) {
    this.handler = handler;
  }
  async publish(channel: string, pub: Publication): Promise<void> {
    const last = this.queue.at(-1)?.due ?? 0;
    this.queue.push({ due: Math.max(last, Date.now() + Math.random() * 4), channel, pub });
    this.timer ??= setTimeout(() => this.pump(), 1);
  }
  private pump(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length && this.queue[0]!.due <= now) {
      const { channel, pub } = this.queue.shift()!;
      if (this.subscribed.has(channel)) this.handler.onPublication(channel, pub);
    }
    if (this.queue.length) this.timer = setTimeout(() => this.pump(), 1);
  }
  async subscribe(channel: string): Promise<void> {
    await new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 3)));
    this.subscribed.add(channel);
  }
  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }
  async publishControl(): Promise<void> {}
  async close(): Promise<void> {
    clearTimeout(this.timer);
  }
}

const CHANNEL = 'chat:race';
const RUN_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['the memory broker', undefined],
  ['a lagging broker', (h: BrokerHandler) => new LaggyBroker(h)],
] as const)('subscribe recovery under concurrent publishing (SQLite history, %s)', (_name, broker) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-race-'));
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gw = await startGateway({
      storage: `sqlite:${join(dir, 'race.db')}`,
      namespaces: { chat: { history: { size: 100_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
      limits: { commandsPerSecond: 100_000 },
    }, broker ? { broker } : {});
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives reconnecting subscribers every publication exactly once, in order', async () => {
    const deadline = Date.now() + RUN_MS;
    let top = 0;
    // Publishers run for RUN_MS and at least 40 rounds each, subscribers until publishers are
    // done and at least 6 sessions each: on a slow machine the run is longer, never thinner.
    let publishing = true;

    const publisher = async (name: string) => {
      const c = await connectAuthed(gw.wsUrl, name);
      let n = 0;
      while (Date.now() < deadline || n < 120) {
        // A few in flight at once, so appends interleave with subscribes and with each other.
        const acks = await Promise.all([0, 1, 2].map(() => c.request({ type: 'publish', channel: CHANNEL, data: { by: name, n: n++ } })));
        for (const a of acks) {
          expect(a.type).toBe('ack');
          top = Math.max(top, a.offset);
        }
        c.frames.length = 0;
        await sleep(1); // enough interleaving, less CPU on a shared machine
      }
      c.close();
    };

    /** Subscribes again and again with `since`; returns every offset it was given, in order. */
    const subscriber = async (name: string) => {
      const got: number[] = [];
      let first: number | undefined;
      let since: { epoch: string; offset: number } | undefined;
      let sessions = 0;
      const session = async (final: boolean) => {
        const c: RawClient = await connectAuthed(gw.wsUrl, name);
        const ack = await c.request({ type: 'subscribe', channel: CHANNEL, ...(since ? { since } : {}) });
        expect(ack.type).toBe('ack');
        if (since) expect(ack.recovered).toBe(true);
        else first = ack.offset;
        const replayedTop = ack.publications?.at(-1)?.offset ?? since?.offset ?? ack.offset;
        if (!final) await sleep(20 + Math.random() * 150);
        else if (replayedTop < top) await c.next((f) => f.type === 'message' && f.offset === top);
        c.close();
        const at = c.frames.indexOf(ack);
        expect(c.frames.slice(0, at).some((f) => f.type === 'message')).toBe(false);
        const pubs: Publication[] = [...(ack.publications ?? []), ...c.frames.slice(at + 1).filter((f) => f.type === 'message')];
        for (const p of pubs) got.push(p.offset!);
        const last = pubs.at(-1);
        since = last ? { epoch: last.epoch!, offset: last.offset! } : (since ?? { epoch: ack.epoch, offset: ack.offset });
        sessions++;
      };
      while (sessions < 6 || publishing) await session(false);
      return { got, first: first!, sessions, finish: () => session(true) };
    };

    const subs = Promise.all(['s1', 's2', 's3', 's4'].map(subscriber));
    await Promise.all(['p1', 'p2', 'p3'].map(publisher));
    publishing = false;
    const results = await subs;
    for (const r of results) await r.finish();

    expect(top).toBeGreaterThan(100);
    for (const r of results) {
      expect(r.sessions).toBeGreaterThan(5);
      const expected = Array.from({ length: top - r.first }, (_, i) => r.first + i + 1);
      // Compare as a whole: a gap or duplicate shows where.
      expect(r.got).toEqual(expected);
    }
  });
});

/** A broker whose `chat:` subscriptions complete only when the test says so. */
class GatedBroker implements Broker {
  readonly nodeId = 'n_gated-node';
  private readonly handler: BrokerHandler;
  private readonly subscribed = new Set<string>();
  readonly gates: Array<() => void> = [];
  constructor(handler: BrokerHandler) {
    this.handler = handler;
  }
  async publish(channel: string, pub: Publication): Promise<void> {
    if (this.subscribed.has(channel)) this.handler.onPublication(channel, pub);
  }
  subscribe(channel: string): Promise<void> {
    if (!channel.startsWith('chat:')) return Promise.resolve(void this.subscribed.add(channel));
    return new Promise((resolve) => this.gates.push(() => {
      this.subscribed.add(channel);
      resolve();
    }));
  }
  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }
  async publishControl(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('a second subscriber while the channel\'s broker subscription is still pending', () => {
  let broker: GatedBroker | undefined;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gw = await startGateway({
      namespaces: { chat: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
    }, { broker: (h) => (broker = new GatedBroker(h)) });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('reads history only after it, so what is published meanwhile is not lost', async () => {
    const [a, b, p] = await Promise.all(['a', 'b', 'p'].map((u) => connectAuthed(gw.wsUrl, u)));
    a.send({ type: 'subscribe', id: 'sa', channel: 'chat:gate' });
    await waitFor(() => broker!.gates.length === 1);
    b.send({ type: 'subscribe', id: 'sb', channel: 'chat:gate' });
    await sleep(50); // b's subscribe is being handled (it must not read history yet)
    expect((await p.request({ type: 'publish', channel: 'chat:gate', data: 'meanwhile' })).offset).toBe(1);
    broker!.gates[0]!();
    const [ackA, ackB] = await Promise.all([a.next((f) => f.id === 'sa'), b.next((f) => f.id === 'sb')]);
    await p.request({ type: 'publish', channel: 'chat:gate', data: 'after' });
    for (const [c, ack] of [[a, ackA], [b, ackB]] as const) {
      const m = await c.next((f) => f.type === 'message' && f.data === 'after');
      // The ack's offset and the messages after it leave no hole: 'meanwhile' is in the ack's position.
      expect(ack.offset).toBe(m.offset - 1);
    }
    for (const c of [a, b, p]) c.close();
  });
});
