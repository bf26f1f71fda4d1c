import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/connection/connection.ts';
import { FanoutEncoder } from '../src/transport/fanout.ts';
import { waitFor } from '../../../test/support/ports.ts';

/** The client end of one connection, as the contract drives it. */
export interface ContractClient {
  /** Protocol frames received so far (JSON; batches unpacked; transport records left out). */
  readonly frames: any[];
  /** Sends one client frame. */
  send(frame: object): void;
  /** Resolves with the close code the gateway sent (its close record, close frame, or call). */
  closed(): Promise<number>;
  /** Takes nothing until `resume`: the socket is not read, the stream not consumed, no poll made. */
  pause(): void;
  resume(): void;
  /** Goes away without a word (a cut network, a closed tab). */
  drop(): void;
}

/** What a transport's harness opens: a client, and the gateway's connection on the other end. */
export interface OpenedTransport {
  client: ContractClient;
  conn: Connection;
}

export interface TransportContractOptions {
  /** Opens a new client connection through the transport under test. */
  open(): Promise<OpenedTransport>;
}

const frame = (o: object) => Buffer.from(JSON.stringify(o));
const turn = () => new Promise((r) => setImmediate(r));

/**
 * What every `Transport` (`src/transport/transport.ts`) does, checked from both ends: the
 * gateway's `Transport` object and a real client of it. Run over WebSocket, HTTP streaming,
 * SSE, long-polling and the unit layer's `TestTransport`
 * (`transport-contract.test.ts`).
 */
export function runTransportContract(o: TransportContractOptions): void {
  describe('transport contract', () => {
    it('delivers frames in order and intact, one at a time and many at once', async () => {
      const { client, conn } = await o.open();
      const t = conn.transport;
      const fanout = new FanoutEncoder();
      const sent: object[] = [];
      for (let n = 0; n < 20; n++) {
        const f = { type: 'contract', n, text: 'héllo 👋 "quoted" \\ \n', nested: [null, true, { a: n }] };
        sent.push(f);
        t.send(frame(f), fanout);
      }
      const many = Array.from({ length: 30 }, (_, i) => ({ type: 'contract', n: 20 + i }));
      sent.push(...many);
      t.sendMany(many.map(frame), fanout);
      fanout.clear();
      await waitFor(() => client.frames.filter((f) => f.type === 'contract').length >= 50, 10_000, '50 frames');
      expect(client.frames.filter((f) => f.type === 'contract')).toEqual(sent);
      client.drop();
    });

    it('sends a fan-out\'s payload intact on every connection, building it at most once per pass', async () => {
      const opened = [await o.open(), await o.open(), await o.open()];
      const fanout = new FanoutEncoder();
      const payload = frame({ type: 'contract', fanout: 'x'.repeat(2000) });
      for (const { conn } of opened) conn.transport.send(payload, fanout);
      expect(fanout.totalBuilt()).toBeLessThanOrEqual(1);
      fanout.clear();
      for (const { client } of opened) {
        await waitFor(() => client.frames.some((f) => f.type === 'contract'), 10_000, 'the fan-out frame');
        expect(client.frames.filter((f) => f.type === 'contract')).toEqual([JSON.parse(payload.toString())]);
        client.drop();
      }
    });

    it('hands inbound frames to its connection in order', async () => {
      const { client } = await o.open();
      for (let i = 1; i <= 20; i++) client.send({ type: 'ping', id: i });
      await waitFor(() => client.frames.filter((f) => f.type === 'pong').length >= 20, 10_000, '20 pongs');
      expect(client.frames.filter((f) => f.type === 'pong').map((f) => f.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      client.drop();
    });

    it('closes with the code given, once; later sends are dropped, never thrown', async () => {
      const { client, conn } = await o.open();
      const t = conn.transport;
      t.close(4001, 'contract close');
      t.close(4002, 'a second close changes nothing');
      t.send(frame({ type: 'contract', after: true }), new FanoutEncoder());
      t.sendMany([frame({ type: 'contract', after: true })], new FanoutEncoder());
      expect(await client.closed()).toBe(4001);
      expect(client.frames.filter((f) => f.type === 'contract')).toEqual([]);
      await t.drained(); // ended: resolves at once
    });

    it('drained(): at once when nothing waits, pending while the client takes nothing, resolved once it does', async () => {
      const { client, conn } = await o.open();
      const t = conn.transport;
      await t.drained();
      client.pause();
      const fanout = new FanoutEncoder();
      const big = frame({ type: 'contract', pad: 'y'.repeat(256 * 1024) });
      for (let i = 0; i < 32; i++) t.send(big, fanout); // 8 MiB: more than the kernel's buffers hold
      fanout.clear();
      expect(t.bufferedAmount).toBeGreaterThan(0);
      let drained = false;
      const done = t.drained().then(() => void (drained = true));
      for (let i = 0; i < 5; i++) await turn();
      expect(drained).toBe(false); // the client takes nothing: nothing can have left
      client.resume();
      await done;
      await waitFor(() => client.frames.filter((f) => f.type === 'contract').length >= 32, 30_000, '32 large frames');
      await waitFor(async () => (await t.drained(), t.bufferedAmount === 0), 10_000, 'an empty buffer');
      client.drop();
    }, 60_000);

    it('tells its connection once when the client goes away', async () => {
      const { client, conn } = await o.open();
      client.drop();
      await waitFor(() => conn.state === 'closed', 20_000, 'the connection closed');
    }, 30_000);
  });
}

