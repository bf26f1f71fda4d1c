import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';

const open = { allowSubscribe: true, allowPublish: true };
const NAMESPACES = {
  chat: { history: { size: 1000, ttl: '1h' }, ...open },
  small: { history: { size: 3, ttl: '1h' }, ...open },
  brief: { history: { size: 1000, ttl: 300 }, ...open },
  live: { ...open },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['memory', 'sqlite'] as const)('history with %s storage', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-hist-'));
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let c: RawClient;
  let n = 0;
  const channel = (ns: string) => `${ns}:c${n++}`;
  /** Publishes; an idempotency key doubles as the command id, so look only at newer frames. */
  const publish = (ch: string, data: unknown, id?: string) => {
    if (!id) return c.request({ type: 'publish', channel: ch, data });
    const seen = new Set(c.frames);
    c.send({ type: 'publish', id, channel: ch, data });
    return c.next((f) => !seen.has(f) && (f.type === 'ack' || f.type === 'error') && f.id === id);
  };

  beforeAll(async () => {
    gw = await startGateway({
      storage: kind === 'memory' ? 'memory' : `sqlite:${join(dir, 'h.db')}`,
      namespaces: NAMESPACES,
      limits: { historyLimit: 4 },
    });
    c = await connectAuthed(gw.wsUrl, 'alice');
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('idempotent publish', () => {
    for (const ns of ['chat', 'live']) {
      it(`acknowledges a repeated id as a duplicate and delivers it once (${ns})`, async () => {
        const ch = channel(ns);
        const sub = await connectAuthed(gw.wsUrl, 'bob');
        await sub.request({ type: 'subscribe', channel: ch });
        const first = await publish(ch, { text: 'hi' }, 'm-1');
        const again = await publish(ch, { text: 'hi' }, 'm-1');
        expect(first.duplicate).toBe(false);
        expect(again.duplicate).toBe(true);
        expect(again.offset).toBe(first.offset);
        expect(again.epoch).toBe(first.epoch);
        await publish(ch, 'marker', 'm-2');
        await sub.next((f) => f.type === 'message' && f.data === 'marker');
        expect(sub.frames.filter((f) => f.type === 'message').map((f) => f.id)).toEqual(['m-1', 'm-2']);
        if (ns === 'chat') expect(first.offset).toBe(1);
        else expect(first.offset).toBeUndefined();
        sub.close();
      });
    }
  });

  describe('subscribe with since', () => {
    it('replays what was missed in the ack, then delivers live ones', async () => {
      const ch = channel('chat');
      const a = await publish(ch, 1);
      await publish(ch, 2);
      await publish(ch, 3);
      const sub = await connectAuthed(gw.wsUrl, 'bob');
      const ack = await sub.request({ type: 'subscribe', channel: ch, since: { epoch: a.epoch, offset: 1 } });
      expect(ack).toMatchObject({ epoch: a.epoch, offset: 3, recovered: true });
      expect(ack.publications.map((p: any) => [p.offset, p.data, p.from])).toEqual([[2, 2, 'alice'], [3, 3, 'alice']]);
      await publish(ch, 4);
      expect((await sub.next((f) => f.type === 'message')).offset).toBe(4);
      sub.close();
    });

    it('answers recovered:false with the current position for another epoch', async () => {
      const ch = channel('chat');
      const a = await publish(ch, 1);
      await publish(ch, 2);
      const ack = await c.request({ type: 'subscribe', channel: ch, since: { epoch: `${a.epoch}x`, offset: 1 } });
      expect(ack).toMatchObject({ type: 'ack', epoch: a.epoch, offset: 2, recovered: false, publications: [] });
      await c.request({ type: 'unsubscribe', channel: ch });
    });

    it('answers recovered:false when the gap is no longer retained (size)', async () => {
      const ch = channel('small');
      let epoch = '';
      for (let i = 1; i <= 6; i++) epoch = (await publish(ch, i)).epoch;
      const lost = await c.request({ type: 'subscribe', channel: ch, since: { epoch, offset: 2 } });
      expect(lost).toMatchObject({ epoch, offset: 6, recovered: false, publications: [] });
      await c.request({ type: 'unsubscribe', channel: ch });
      const kept = await c.request({ type: 'subscribe', channel: ch, since: { epoch, offset: 3 } });
      expect(kept.recovered).toBe(true);
      expect(kept.publications.map((p: any) => p.offset)).toEqual([4, 5, 6]);
      await c.request({ type: 'unsubscribe', channel: ch });
    });

    it('sends the replay as messages when the subscribe has no id', async () => {
      const ch = channel('chat');
      const a = await publish(ch, 'one');
      await publish(ch, 'two');
      const sub = await connectAuthed(gw.wsUrl, 'bob');
      sub.send({ type: 'subscribe', channel: ch, since: { epoch: a.epoch, offset: 0 } });
      await sub.next((f) => f.type === 'message' && f.data === 'two');
      expect(sub.frames.filter((f) => f.type === 'message').map((f) => f.offset)).toEqual([1, 2]);
      sub.close();
    });

    it('refuses since on a channel without history', async () => {
      const r = await c.request({ type: 'subscribe', channel: channel('live'), since: { epoch: 'e', offset: 0 } });
      expect(r).toMatchObject({ type: 'error', code: 'bad_request' });
    });
  });

  describe('history command', () => {
    it('pages oldest first from since, and newest first with reverse, up to the limit cap', async () => {
      const ch = channel('chat');
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await publish(ch, i)).epoch;
      const page = async (extra: Record<string, unknown>) => {
        const r = await c.request({ type: 'history', channel: ch, ...extra });
        expect(r).toMatchObject({ type: 'ack', epoch, offset: 10 });
        return r.publications.map((p: any) => p.offset);
      };
      expect(await page({ limit: 3 })).toEqual([1, 2, 3]);
      expect(await page({ limit: 3, since: { epoch, offset: 3 } })).toEqual([4, 5, 6]);
      expect(await page({ limit: 3, reverse: true })).toEqual([10, 9, 8]);
      expect(await page({ limit: 3, reverse: true, since: { epoch, offset: 8 } })).toEqual([7, 6, 5]);
      expect(await page({ limit: 100 })).toEqual([1, 2, 3, 4]); // limits.historyLimit
      expect(await page({ limit: 0 })).toEqual([]);
    });

    it('answers unrecoverable_position for a stale position and not_available without history', async () => {
      const ch = channel('chat');
      await publish(ch, 1);
      expect(await c.request({ type: 'history', channel: ch, since: { epoch: 'nope', offset: 0 } })).toMatchObject({ type: 'error', code: 'unrecoverable_position' });
      expect(await c.request({ type: 'history', channel: channel('live') })).toMatchObject({ type: 'error', code: 'not_available' });
    });
  });

  describe('retention', () => {
    it('keeps the newest `size` publications', async () => {
      const ch = channel('small');
      for (let i = 1; i <= 5; i++) await publish(ch, i);
      const r = await c.request({ type: 'history', channel: ch, limit: 4 });
      expect(r.publications.map((p: any) => p.data)).toEqual([3, 4, 5]);
    });

    it('drops publications older than ttl, keeping the position', async () => {
      const ch = channel('brief');
      const a = await publish(ch, 'soon gone');
      expect((await c.request({ type: 'history', channel: ch })).publications).toHaveLength(1);
      await sleep(350);
      const r = await c.request({ type: 'history', channel: ch });
      expect(r).toMatchObject({ epoch: a.epoch, offset: 1, publications: [] });
    });
  });
});
