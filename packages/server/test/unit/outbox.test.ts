import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, Disconnect } from '@switchboard/protocol';
import { Connection, type ConnectionHost } from '../../src/connection/connection.ts';
import { Outbox } from '../../src/connection/outbox.ts';
import type { FanoutEncoder } from '../../src/transport/fanout.ts';
import { fanoutSlot } from '../../src/transport/fanout.ts';
import { V1Protocol } from '../../src/protocols/v1/protocol.ts';
import type { CommandContext } from '../../src/protocols/command-context.ts';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { TestTransport } from './test-transport.ts';

/**
 * The write path with fakes: the node's outbox (one pass per event-loop turn), batching, the
 * fan-out encoder's life, slow consumers, and `whenWritable` waiting for the transport's
 * drain signal.
 */
const log = createLogger('silent');
const v1 = new V1Protocol({} as CommandContext);
const frame = (n: number) => Buffer.from(JSON.stringify({ type: 'message', channel: 'c', data: n, ts: 1 }));
const tick = () => new Promise((r) => setImmediate(r));

/** A transport that records its writes (one entry per `send`/`sendMany`) and frames through the encoder. */
class WritesTransport extends TestTransport {
  readonly writes: string[][] = [];
  framed = 0;
  override send(f: Buffer, fanout?: FanoutEncoder): void {
    this.writes.push([f.toString()]);
    if (fanout) fanout.memo(COUNTED, f);
    super.send(f);
  }
  override sendMany(fs: readonly Buffer[], fanout?: FanoutEncoder): void {
    this.writes.push(fs.map((f) => f.toString()));
    for (const f of fs) if (fanout) fanout.memo(COUNTED, f);
    for (const f of fs) super.send(f);
  }
}
const COUNTED = fanoutSlot('unit test framing', (p: Buffer) => Buffer.concat([Buffer.from('>'), p]));

let conns: Connection[] = [];
afterEach(() => {
  for (const c of conns.splice(0)) c.closed(1000);
});

function connection(outbox: Outbox, o: { batch?: boolean; maxQueueBytes?: number } = {}) {
  const config = parseConfig({ storage: 'memory', limits: { maxQueueBytes: o.maxQueueBytes ?? 1024 * 1024 } });
  const host: ConnectionHost = { limits: config.limits, metrics: { error() {} }, log, outbox, closed: () => {} };
  const t = new WritesTransport({ batch: o.batch ?? false });
  const conn = new Connection(host, t, { ip: '127.0.0.1', headers: {} }, v1);
  conns.push(conn);
  return { conn, t };
}

describe('unit: the outbox and the write path', () => {
  it('sends what one turn queued in one write: a batch for batching clients, corked frames otherwise', async () => {
    const outbox = new Outbox();
    const plain = connection(outbox);
    const batching = connection(outbox, { batch: true });
    for (const n of [1, 2, 3]) {
      plain.conn.enqueue(frame(n));
      batching.conn.enqueue(frame(n));
    }
    expect(plain.t.writes).toEqual([]); // nothing before the end of the turn
    await tick();
    expect(plain.t.writes).toHaveLength(1);
    expect(plain.t.writes[0]).toHaveLength(3);
    expect(batching.t.writes).toHaveLength(1);
    expect(JSON.parse(batching.t.writes[0]![0]!).map((f: { data: number }) => f.data)).toEqual([1, 2, 3]);
  });

  it('joins one batch for every connection that queued the same frames, and builds each payload once per pass', async () => {
    const outbox = new Outbox();
    const clients = [connection(outbox, { batch: true }), connection(outbox, { batch: true }), connection(outbox, { batch: true })];
    const frames = [frame(1), frame(2)];
    for (const c of clients) for (const f of frames) c.conn.enqueue(f);
    await tick();
    const batches = clients.map((c) => c.t.writes[0]![0]);
    expect(new Set(batches).size).toBe(1);
    expect(outbox.encoder.built(COUNTED)).toBe(1); // one batch Buffer, framed once for three sockets
    // The pass is over: the encoder holds nothing, the next pass builds again.
    for (const c of clients) c.conn.enqueue(frames[0]!);
    await tick();
    expect(outbox.encoder.built(COUNTED)).toBe(2);
  });

  it('closes a client whose queue would pass limits.maxQueueBytes (3008 slow_consumer), without writing the queue', async () => {
    const outbox = new Outbox();
    const { conn, t } = connection(outbox, { maxQueueBytes: 2000 });
    t.bufferedAmount = 1900; // the client is not reading
    conn.enqueue(Buffer.from(JSON.stringify({ type: 'message', channel: 'c', data: 'x'.repeat(200), ts: 1 })));
    await tick();
    expect(t.closeCode).toBe(CloseCode.slow_consumer);
    expect(t.writes).toEqual([]);
  });

  it('whenWritable waits for the transport\'s drain signal, not for time to pass', async () => {
    const outbox = new Outbox();
    const { conn, t } = connection(outbox);
    t.bufferedAmount = 5000;
    let writable = false;
    const waiting = conn.whenWritable(1000).then(() => void (writable = true));
    for (let i = 0; i < 20; i++) await tick();
    expect(writable).toBe(false);
    t.drain(3000); // still 2000 over: waits on
    for (let i = 0; i < 5; i++) await tick();
    expect(writable).toBe(false);
    t.drain();
    await waiting;
    // A closed connection is writable at once (nothing to wait for).
    t.bufferedAmount = 5000;
    conn.closed(1006);
    await conn.whenWritable(1000);
  });

  it('a connection that closes writes its last frames at once and the encoder is cleared after the turn', async () => {
    const outbox = new Outbox();
    const { conn, t } = connection(outbox);
    conn.enqueue(frame(1));
    conn.terminate(new Disconnect(CloseCode.shutdown, 'shutdown'));
    expect(t.frames.map((f) => f.type)).toEqual(['message', 'disconnect']);
    expect(t.closeCode).toBe(CloseCode.shutdown);
    expect(outbox.encoder.built(COUNTED)).toBe(2);
    await tick();
    conn.enqueue(frame(2)); // closed: dropped
    await tick();
    expect(t.frames).toHaveLength(2);
  });
});
