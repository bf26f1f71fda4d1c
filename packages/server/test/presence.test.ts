import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startGateway, token } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

/** Deterministic PRNG (mulberry32), so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function connect(wsUrl: string, user: string, claims: Record<string, unknown> = {}): Promise<RawClient> {
  const c = new RawClient(`${wsUrl}?token=${await token(user, claims)}`);
  clients.push(c);
  await c.next((f) => f.type === 'auth_success');
  return c;
}

const CHAT = { presence: true, joinLeave: true, allowSubscribe: true };

describe('channel presence', () => {
  it('counts stay right through 100 random connects, disconnects and unsubscribes (seeded)', async () => {
    const gw = await startGateway({ namespaces: { chat: CHAT } });
    servers.push(gw);
    const random = rng(0x5eed);
    const observer = await connect(gw.wsUrl, 'observer');
    await observer.request({ type: 'subscribe', channel: 'chat:room' });
    const live: Array<{ user: string; c: RawClient }> = [];
    const model = new Map<string, number>([['observer', 1]]);
    const expected = () => Object.fromEntries([...model].filter(([, n]) => n > 0).map(([user, connections]) =>
      [user, user === 'observer' ? { user, connections } : { user, info: { name: user.toUpperCase() }, connections }]));
    const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
    for (let step = 0; step < 100; step++) {
      const r = random();
      if (live.length === 0 || r < 0.55) {
        const user = users[Math.floor(random() * users.length)]!;
        const c = await connect(gw.wsUrl, user, { info: { name: user.toUpperCase() } });
        expect(await c.request({ type: 'subscribe', channel: 'chat:room' })).toMatchObject({ type: 'ack' });
        live.push({ user, c });
        model.set(user, (model.get(user) ?? 0) + 1);
      } else {
        const { user, c } = live.splice(Math.floor(random() * live.length), 1)[0]!;
        if (r < 0.8) c.close(); // socket dropped
        else expect(await c.request({ type: 'unsubscribe', channel: 'chat:room' })).toMatchObject({ type: 'ack' });
        model.set(user, model.get(user)! - 1);
      }
      const want = expected();
      let got: unknown;
      await waitFor(async () => {
        got = (await observer.request({ type: 'presence', channel: 'chat:room' })).presence;
        return JSON.stringify(sortKeys(got)) === JSON.stringify(sortKeys(want));
      }, 5000, `presence after step ${step}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    // Join and leave pushes tell the same story, per user.
    const tally = new Map<string, number>();
    for (const f of observer.frames) {
      if (f.channel !== 'chat:room') continue;
      if (f.type === 'join') tally.set(f.user, (tally.get(f.user) ?? 0) + 1);
      if (f.type === 'leave') tally.set(f.user, (tally.get(f.user) ?? 0) - 1);
    }
    for (const u of users) expect(tally.get(u) ?? 0).toBe(model.get(u) ?? 0);
    expect(observer.frames.filter((f) => f.type === 'join').every((f) => f.info?.name === f.user.toUpperCase())).toBe(true);
  });

  it('presence is refused where the namespace does not enable it; join/leave only with joinLeave', async () => {
    const gw = await startGateway({ namespaces: { plain: { allowSubscribe: true }, quiet: { presence: true, allowSubscribe: true } } });
    servers.push(gw);
    const a = await connect(gw.wsUrl, 'a');
    expect(await a.request({ type: 'presence', channel: 'plain:x' })).toMatchObject({ type: 'error', code: 'not_available' });
    await a.request({ type: 'subscribe', channel: 'quiet:x' });
    const b = await connect(gw.wsUrl, 'b');
    await b.request({ type: 'subscribe', channel: 'quiet:x' });
    expect(Object.keys((await a.request({ type: 'presence', channel: 'quiet:x' })).presence).sort()).toEqual(['a', 'b']);
    expect(a.frames.some((f) => f.type === 'join' || f.type === 'leave')).toBe(false);
  });
});

describe('online / offline', () => {
  it('fire once per user, after its last tab is gone and the grace passed; a reload does not flap', async () => {
    const gw = await startGateway({ namespaces: { chat: CHAT }, presence: { offlineGraceMs: 1500 } });
    servers.push(gw);
    const watcher = await connect(gw.wsUrl, 'watcher');
    await watcher.request({ type: 'subscribe', channel: 'chat:room' });
    const bystander = await connect(gw.wsUrl, 'bystander'); // no presence channel: not a watcher
    const events = () => watcher.frames.filter((f) => (f.type === 'online' || f.type === 'offline') && f.user === 'alice').map((f) => f.type);

    const t1 = await connect(gw.wsUrl, 'alice');
    await watcher.next((f) => f.type === 'online' && f.user === 'alice');
    const t2 = await connect(gw.wsUrl, 'alice');
    t1.close();
    await waitFor(() => gw.node.hub.connectionsOf('alice').size === 1, 5000, 'tab 1 gone');
    t2.close();
    await watcher.next((f) => f.type === 'offline' && f.user === 'alice', 10_000);
    expect(events()).toEqual(['online', 'offline']);

    // A reload: the only tab closes and a new one opens within the grace.
    const t3 = await connect(gw.wsUrl, 'alice');
    await waitFor(() => events().length === 3, 5000, 'second online');
    t3.close();
    await waitFor(() => gw.node.hub.connectionsOf('alice').size === 0, 5000, 'tab 3 gone');
    const t4 = await connect(gw.wsUrl, 'alice');
    await t4.request({ type: 'subscribe', channel: 'chat:room' });
    t4.close();
    await waitFor(() => gw.node.hub.connectionsOf('alice').size === 0, 5000, 'tab 4 gone');
    // A marker user leaves after alice: its offline (same grace) comes after every timer of alice's.
    const marker = await connect(gw.wsUrl, 'marker');
    marker.close();
    await watcher.next((f) => f.type === 'offline' && f.user === 'marker', 10_000);
    expect(events()).toEqual(['online', 'offline', 'online', 'offline']);
    expect(bystander.frames.some((f) => f.type === 'online' || f.type === 'offline')).toBe(false);
  });
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}
