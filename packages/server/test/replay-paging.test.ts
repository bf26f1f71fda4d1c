import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/ports.ts';
import { connectAuthed, startGateway } from './helpers.ts';

// Issue 13, defect 3: a recovery (`since`) of more than limits.maxQueueBytes used to close the
// client 3008 every time. The ack now carries at most limits.maxReplayBytes of it and says where
// to continue (`more`, `next`); the client pages the rest with `history`.
const MAX_REPLAY = 256 * 1024;
const NAMESPACES = { chat: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } };
const PAD = 'x'.repeat(60_000);
const bytesOf = (pubs: unknown[]) => pubs.reduce<number>((n, p) => n + Buffer.byteLength(JSON.stringify(p)), 0);

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  // A queue of 1 MiB: the 4.8 MB replay is more than four times what one connection may hold.
  gw = await startGateway({ namespaces: NAMESPACES, limits: { maxReplayBytes: MAX_REPLAY, maxQueueBytes: 1024 * 1024 } });
});
afterAll(() => gw?.close());

/** Publishes `count` publications of 60 KB; returns the stream's epoch. */
async function fill(channel: string, count: number): Promise<string> {
  const ch = gw.node.resolve(channel);
  let epoch = '';
  for (let n = 1; n <= count; n++) epoch = (await gw.node.publish(ch, { n, pad: PAD })).epoch!;
  return epoch;
}

describe('paged recovery (raw protocol)', () => {
  it('the ack carries what fits under maxReplayBytes with more/next; history from next reaches the ack offset; live messages are those past it', async () => {
    const epoch = await fill('chat:paged', 80);
    const c = await connectAuthed(gw.wsUrl, 'pager');
    const ack = await c.request({ type: 'subscribe', channel: 'chat:paged', since: { epoch, offset: 0 } });
    expect(ack).toMatchObject({ type: 'ack', epoch, offset: 80, recovered: true, more: true });
    expect(ack.publications.length).toBeGreaterThan(0);
    expect(bytesOf(ack.publications)).toBeLessThanOrEqual(MAX_REPLAY);
    const last = ack.publications.at(-1).offset;
    expect(ack.next).toEqual({ epoch, offset: last });
    expect(ack.publications.map((p: any) => p.offset)).toEqual(Array.from({ length: last }, (_, i) => i + 1));

    // Published after the ack: delivered live at once, while the client is still paging.
    const ch = gw.node.resolve('chat:paged');
    await gw.node.publish(ch, { n: 81 });
    await c.next((f) => f.type === 'message' && f.offset === 81);

    const offsets: number[] = ack.publications.map((p: any) => p.offset);
    let since = ack.next;
    let pages = 0;
    for (;;) {
      const page = await c.request({ type: 'history', channel: 'chat:paged', since, limit: 1000 });
      expect(page.type).toBe('ack');
      pages++;
      expect(bytesOf(page.publications)).toBeLessThanOrEqual(MAX_REPLAY);
      for (const p of page.publications) if (p.offset <= ack.offset) offsets.push(p.offset);
      const tail = page.publications.at(-1);
      expect(page.more === true).toBe(tail.offset < page.offset);
      if (!page.more) break;
      since = { epoch, offset: tail.offset };
    }
    expect(pages).toBeGreaterThan(3);
    expect(offsets).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    // Live: exactly what lies past the ack's offset; nothing of the replay came as a message.
    expect(c.frames.filter((f) => f.type === 'message').map((f) => f.offset)).toEqual([81]);
    expect(c.closeCode).toBeUndefined();
    c.close();
  });

  it('a replay that fits answers as before: everything in the ack, no more/next', async () => {
    const epoch = await fill('chat:small', 3);
    const c = await connectAuthed(gw.wsUrl, 'small');
    const ack = await c.request({ type: 'subscribe', channel: 'chat:small', since: { epoch, offset: 1 } });
    expect(ack).toMatchObject({ type: 'ack', epoch, offset: 3, recovered: true });
    expect(ack.publications.map((p: any) => p.offset)).toEqual([2, 3]);
    expect(ack.more).toBeUndefined();
    expect(ack.next).toBeUndefined();
    c.close();
  });

  it('40 recovering subscribes sent at once by a client that stops reading are all answered once it reads again, never closed 3008', async () => {
    const channels = Array.from({ length: 40 }, (_, i) => `chat:many-${i}`);
    const epochs = new Map<string, string>();
    for (const ch of channels) epochs.set(ch, await fill(ch, 5)); // 300 KB each: 12 MB in all, the queue holds 1 MiB
    const c = await connectAuthed(gw.wsUrl, 'many');
    const socket = c.socket!;
    socket.pause();
    channels.forEach((ch, i) => c.send({ type: 'subscribe', id: `m${i}`, channel: ch, since: { epoch: epochs.get(ch), offset: 0 } }));
    await waitFor(() => [...gw.node.connections].find((k) => k.user === 'many' && k.transport.bufferedAmount > MAX_REPLAY), 30_000, 'the socket backed up');
    socket.resume();
    await c.next((f) => f.type === 'ack' && f.id === 'm39', 60_000);
    const acks = c.frames.filter((f) => f.type === 'ack');
    expect(acks).toHaveLength(40);
    for (const a of acks) {
      expect(a).toMatchObject({ recovered: true, offset: 5 });
      expect(bytesOf(a.publications)).toBeLessThanOrEqual(MAX_REPLAY);
    }
    expect(c.closeCode).toBeUndefined();
    c.close();
  }, 120_000);

  it('a subscribe with since but no id receives the whole replay as messages, paced, never closed 3008', async () => {
    const epoch = await fill('chat:noid', 80);
    const c = await connectAuthed(gw.wsUrl, 'noid');
    c.send({ type: 'subscribe', channel: 'chat:noid', since: { epoch, offset: 0 } });
    await c.next((f) => f.type === 'message' && f.offset === 80, 20_000);
    await gw.node.publish(gw.node.resolve('chat:noid'), { n: 81 });
    await c.next((f) => f.type === 'message' && f.offset === 81);
    await c.roundtrip();
    expect(c.frames.filter((f) => f.type === 'message').map((f) => f.offset)).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
    expect(c.closeCode).toBeUndefined();
    c.close();
  });
});
