import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';

const open = { allowSubscribe: true, allowPublish: true };

describe.each(['memory', 'sqlite'] as const)('subscribe with rewind (%s storage)', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-rewind-'));
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let alice: RawClient;
  let n = 0;
  const channel = (ns = 'chat') => `${ns}:r${n++}`;
  const publishAll = async (ch: string, values: unknown[]) => {
    for (const data of values) await alice.request({ type: 'publish', channel: ch, data });
  };

  beforeAll(async () => {
    gw = await startGateway({
      storage: kind === 'memory' ? 'memory' : `sqlite:${join(dir, 'r.db')}`,
      namespaces: { chat: { history: { size: 1000, ttl: '1h' }, ...open }, live: open, '#': { history: { size: 50, ttl: '1h' } } },
      limits: { maxRewind: 10, maxRewindBytes: 1024 },
    });
    alice = await connectAuthed(gw.wsUrl, 'alice');
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a fresh subscriber with rewind: 3 gets the last three, oldest first, then live ones without a duplicate', async () => {
    const ch = channel();
    await publishAll(ch, [1, 2, 3, 4, 5]);
    const bob = await connectAuthed(gw.wsUrl, 'bob');
    const ack = await bob.request({ type: 'subscribe', channel: ch, rewind: 3 });
    expect(ack.type).toBe('ack');
    expect(ack.offset).toBe(5);
    expect(ack.publications.map((p: any) => [p.offset, p.data, p.from])).toEqual([[3, 3, 'alice'], [4, 4, 'alice'], [5, 5, 'alice']]);
    expect(ack.recovered).toBeUndefined();
    await publishAll(ch, [6]);
    await bob.next((f) => f.type === 'message' && f.data === 6);
    expect(bob.frames.filter((f) => f.type === 'message').map((f) => f.offset)).toEqual([6]);
    bob.close();
  });

  it('gives what there is when fewer are retained, and nothing on an empty stream', async () => {
    const ch = channel();
    const bob = await connectAuthed(gw.wsUrl, 'bob');
    expect((await bob.request({ type: 'subscribe', channel: ch, rewind: 5 })).publications).toEqual([]);
    const ch2 = channel();
    await publishAll(ch2, ['a', 'b']);
    expect((await bob.request({ type: 'subscribe', channel: ch2, rewind: 5 })).publications.map((p: any) => p.data)).toEqual(['a', 'b']);
    bob.close();
  });

  it('leaves out the oldest publications past limits.maxRewindBytes, never the newest', async () => {
    const ch = channel();
    const big = 'x'.repeat(600);
    await publishAll(ch, [`1${big}`, `2${big}`, `3${big}`]);
    const bob = await connectAuthed(gw.wsUrl, 'bob');
    const ack = await bob.request({ type: 'subscribe', channel: ch, rewind: 3 });
    expect(ack.publications.map((p: any) => p.offset)).toEqual([3]);
    const huge = channel();
    await publishAll(huge, ['y'.repeat(3000)]);
    expect((await bob.request({ type: 'subscribe', channel: huge, rewind: 1 })).publications.map((p: any) => p.offset)).toEqual([1]);
    bob.close();
  });

  it('refuses clearly: past limits.maxRewind, without history, together with since, not an integer', async () => {
    const bob = await connectAuthed(gw.wsUrl, 'bob');
    expect(await bob.request({ type: 'subscribe', channel: channel(), rewind: 11 })).toMatchObject({ type: 'error', code: 'limit_exceeded', message: expect.stringContaining('limits.maxRewind') });
    expect(await bob.request({ type: 'subscribe', channel: channel('live'), rewind: 2 })).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('no history') });
    expect(await bob.request({ type: 'subscribe', channel: channel(), rewind: 2, since: { epoch: 'e', offset: 0 } })).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('not both') });
    expect(await bob.request({ type: 'subscribe', channel: channel(), rewind: 1.5 })).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('rewind') });
    expect(bob.closeCode).toBeUndefined();
    bob.close();
  });

  it('on the auto-subscribed personal channel: a new device sees the recent private messages at once', async () => {
    const user = `carol${n++}`;
    for (const text of ['one', 'two', 'three']) await alice.request({ type: 'send', to: user, data: { text } });
    const device = await connectAuthed(gw.wsUrl, user);
    const ack = await device.request({ type: 'subscribe', channel: `#${user}`, rewind: 2 });
    expect(ack.publications.map((p: any) => p.data.text)).toEqual(['two', 'three']);
    await alice.request({ type: 'send', to: user, data: { text: 'four' } });
    await device.next((f) => f.type === 'message' && f.data.text === 'four');
    expect(device.frames.filter((f) => f.type === 'message').map((f) => f.data.text)).toEqual(['four']);
    device.close();
  });
});
