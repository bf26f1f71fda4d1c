import { describe, expect, it } from 'vitest';
import type { Publication } from '@switchboard/protocol';
import type { Broker, BrokerHandler, ControlMessage } from './broker.ts';

/** A handler that records what a broker delivers. */
export class RecordingHandler implements BrokerHandler {
  readonly publications: Array<{ channel: string; pub: Publication }> = [];
  readonly controls: ControlMessage[] = [];
  onPublication(channel: string, pub: Publication): void {
    this.publications.push({ channel, pub });
  }
  onControl(msg: ControlMessage): void {
    this.controls.push(msg);
  }
  of(channel: string): Publication[] {
    return this.publications.filter((p) => p.channel === channel).map((p) => p.pub);
  }
}

export interface BrokerContractOptions {
  /** A new broker (a new "node") calling back into `handler`. */
  create(handler: BrokerHandler): Broker | Promise<Broker>;
  /** True when brokers from separate `create` calls reach each other (Redis: yes; memory: no). */
  multiNode: boolean;
}

async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const pub = (channel: string, n: number, data: unknown = { n }): Publication => ({ channel, data, ts: 1_700_000_000_000 + n, offset: n, epoch: 'ep' });

/**
 * The guarantees every Broker keeps (see broker.ts): a subscribed node receives a channel's
 * publications in publish order and intact; control messages reach every node, the sender
 * too, and those addressed to one node (`toNode`) only that node, in order.
 */
export function runBrokerContract(o: BrokerContractOptions): void {
  const open = async (): Promise<{ h: RecordingHandler; b: Broker }> => {
    const h = new RecordingHandler();
    return { h, b: await o.create(h) };
  };

  describe('broker contract', () => {
    it('delivers a subscribed channel in publish order, to the publishing node too', async () => {
      const { h, b } = await open();
      try {
        await b.subscribe('c:order');
        await Promise.all(Array.from({ length: 200 }, (_, i) => b.publish('c:order', pub('c:order', i + 1))));
        await eventually(() => expect(h.of('c:order')).toHaveLength(200));
        expect(h.of('c:order').map((p) => p.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      } finally {
        await b.close();
      }
    });

    it('keeps every field and any JSON payload intact', async () => {
      const { h, b } = await open();
      try {
        await b.subscribe('c:data');
        const data = { text: 'héllo 👋 "quoted" \\ \n', big: 2 ** 53 - 1, neg: -0.5, nested: [null, true, { a: [] }] };
        const sent: Publication = { channel: 'c:data', data, ts: 123, offset: 7, epoch: 'e1', from: 'alice', id: 'm-1' };
        await b.publish('c:data', sent);
        await eventually(() => expect(h.of('c:data')).toEqual([sent]));
      } finally {
        await b.close();
      }
    });

    it('delivers control messages to the sending node', async () => {
      const { h, b } = await open();
      try {
        const msg: ControlMessage = { type: 'disconnect', user: 'bob', code: 3503, reason: 'forced' };
        await b.publishControl(msg);
        await eventually(() => expect(h.controls).toEqual([msg]));
      } finally {
        await b.close();
      }
    });

    it('delivers a control message addressed to its own node id, and one addressed elsewhere nowhere', async () => {
      const { h, b } = await open();
      try {
        expect(b.nodeId).toMatch(/^[A-Za-z0-9_-]{8,32}$/);
        await b.publishControl({ type: 'user_event', event: 'online', user: 'nobody' }, 'n_not-a-node');
        const msgs: ControlMessage[] = Array.from({ length: 50 }, (_, i) => ({ type: 'reply', id: String(i), node: 'n_x', body: { i } }));
        for (const m of msgs) void b.publishControl(m, b.nodeId);
        await eventually(() => expect(h.controls).toHaveLength(50));
        expect(h.controls).toEqual(msgs);
      } finally {
        await b.close();
      }
    });

    it('close is idempotent', async () => {
      const { b } = await open();
      await b.close();
      await b.close();
    });

    if (!o.multiNode) return;

    it('delivers to another node in order, and only while it is subscribed', async () => {
      const a = await open();
      const b = await open();
      try {
        await b.b.subscribe('c:x');
        for (let i = 1; i <= 100; i++) void a.b.publish('c:x', pub('c:x', i));
        await a.b.publish('c:other', pub('c:other', 1));
        await eventually(() => expect(b.h.of('c:x')).toHaveLength(100));
        expect(b.h.of('c:x').map((p) => p.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        expect(b.h.of('c:other')).toEqual([]);
        await b.b.unsubscribe('c:x');
        await a.b.publish('c:x', pub('c:x', 101));
        await b.b.subscribe('c:marker');
        await a.b.publish('c:marker', pub('c:marker', 1));
        await eventually(() => expect(b.h.of('c:marker')).toHaveLength(1));
        expect(b.h.of('c:x')).toHaveLength(100);
      } finally {
        await a.b.close();
        await b.b.close();
      }
    });

    it('broadcasts control messages to every node', async () => {
      const nodes = [await open(), await open(), await open()];
      try {
        const msg: ControlMessage = { type: 'user_event', event: 'online', user: 'carol' };
        await nodes[1]!.b.publishControl(msg);
        for (const n of nodes) await eventually(() => expect(n.h.controls).toEqual([msg]));
      } finally {
        for (const n of nodes) await n.b.close();
      }
    });

    it('delivers a control message addressed to one node to that node only, in order', async () => {
      const nodes = [await open(), await open(), await open()];
      try {
        const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
        expect(new Set(nodes.map((n) => n.b.nodeId)).size).toBe(3);
        const msgs: ControlMessage[] = Array.from({ length: 100 }, (_, i) => ({ type: 'request', service: 's', id: String(i), from: a.b.nodeId, body: { i } }));
        for (const m of msgs) void a.b.publishControl(m, b.b.nodeId);
        // A broadcast afterwards: once every node has it, c has had every chance to see b's messages.
        const marker: ControlMessage = { type: 'user_event', event: 'offline', user: 'marker' };
        await a.b.publishControl(marker);
        await eventually(() => expect(b.h.controls).toHaveLength(101));
        expect(b.h.controls.filter((m) => m.type === 'request')).toEqual(msgs);
        for (const n of [a, c]) await eventually(() => expect(n.h.controls).toEqual([marker]));
      } finally {
        for (const n of nodes) await n.b.close();
      }
    });
  });
}
