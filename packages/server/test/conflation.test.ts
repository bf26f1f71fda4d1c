import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * Conflation (namespace option `conflation: {key, intervalMs}`) end to end: a consumer that
 * stops reading (its TCP socket paused) while a flood of publications on five keys goes out
 * is closed 3008 on a plain channel, and on a conflated one stays connected and, once it
 * reads again, gets the latest value of every key, each key's values in order.
 */
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA'];
const PAD = 'x'.repeat(8000);

beforeAll(async () => {
  gw = await startGateway({
    limits: { maxQueueBytes: 256 * 1024 },
    namespaces: {
      ticker: { allowSubscribe: true, conflation: { key: 'symbol', intervalMs: 50 } },
      plain: { allowSubscribe: true },
    },
  });
});
afterAll(async () => {
  await gw.close();
});

/** Publishes `rounds` × every symbol (8 KB each) with the round in the data; yields between rounds. */
async function flood(channel: string, rounds: number): Promise<void> {
  const ch = gw.node.resolve(channel);
  for (let round = 0; round < rounds; round++) {
    for (const symbol of SYMBOLS) await gw.node.publish(ch, { symbol, round, pad: PAD }, { tags: { symbol } });
    await new Promise((r) => setImmediate(r));
  }
}

async function paused(channel: string): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, `u-${channel.replace(":", "-")}`);
  expect((await c.request({ type: 'subscribe', channel })).type).toBe('ack');
  c.socket!.pause();
  return c;
}

describe('conflation', () => {
  it('a plain channel closes a consumer that stopped reading 3008 (the same load as below)', async () => {
    const c = await paused('plain:p');
    await flood('plain:p', 200);
    c.socket!.resume();
    expect(await c.waitClose(20_000)).toBe(3008);
  });

  it('a conflated channel keeps it: once it reads again it gets the latest value of every key, in order per key', async () => {
    const c = await paused('ticker:t');
    const rounds = 200;
    await flood('ticker:t', rounds);
    // The ticks found no room and kept only the latest values: still connected.
    await c.next(() => false, 0).catch(() => {});
    expect(c.closeCode).toBeUndefined();
    c.socket!.resume();
    const last = (s: string) => c.frames.some((f) => f.type === 'message' && f.data.symbol === s && f.data.round === rounds - 1);
    await waitFor(() => SYMBOLS.every(last), 20_000, 'the latest value of every symbol');
    await c.roundtrip();
    expect(c.closeCode).toBeUndefined();
    const messages = c.frames.filter((f) => f.type === 'message');
    for (const s of SYMBOLS) {
      const seen = messages.filter((m) => m.data.symbol === s).map((m) => m.data.round as number);
      expect(seen.at(-1)).toBe(rounds - 1);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen); // in order
      expect(new Set(seen).size).toBe(seen.length); // never twice
      expect(messages.find((m) => m.data.symbol === s)!.tags).toEqual({ symbol: s });
    }
    // Conflated: far fewer than the 1,000 publications reached it.
    expect(messages.length).toBeLessThan(rounds * SYMBOLS.length);
    c.close();
  });
});
